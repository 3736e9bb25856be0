"""Wrong passwords counted per account and computer (accounts/attempts.py), on a given clock."""
from jhub_admin_service.accounts.attempts import AttemptLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def fail(limiter, login, client, times=1):
    for _ in range(times):
        assert limiter.begin(login, client)
        limiter.end(login, client, success=False)


def test_five_failures_then_a_wait_that_doubles_and_ages_out_of_the_window():
    clock = Clock()
    limiter = AttemptLimiter(clock=clock)
    fail(limiter, "eleve.b", "10.0.0.7", 4)
    assert limiter.wait("eleve.b", "10.0.0.7") == 0
    fail(limiter, "eleve.b", "10.0.0.7")
    assert limiter.wait("eleve.b", "10.0.0.7") == 60
    clock.now += 60
    assert limiter.wait("eleve.b", "10.0.0.7") == 0
    fail(limiter, "eleve.b", "10.0.0.7")
    assert limiter.wait("eleve.b", "10.0.0.7") == 120
    clock.now += 15 * 60 + 1  # every failure is older than the window
    assert limiter.wait("eleve.b", "10.0.0.7") == 0


def test_the_owner_at_another_computer_does_not_wait_and_a_success_resets_their_count():
    limiter = AttemptLimiter(clock=Clock())
    fail(limiter, "eleve.b", "10.0.0.7", 5)
    assert limiter.wait("eleve.b", "10.0.0.8") == 0 and limiter.wait("eleve.c", "10.0.0.7") == 0
    fail(limiter, "eleve.c", "10.0.0.9", 4)
    assert limiter.begin("eleve.c", "10.0.0.9")
    limiter.end("eleve.c", "10.0.0.9", success=True)
    fail(limiter, "eleve.c", "10.0.0.9", 4)
    assert limiter.wait("eleve.c", "10.0.0.9") == 0


def test_one_computer_spraying_names_and_one_name_tried_everywhere_both_wait():
    limiter = AttemptLimiter(clock=Clock())
    for i in range(50):
        fail(limiter, f"eleve{i}", "10.0.0.7")
    assert limiter.wait("eleve.new", "10.0.0.7") > 0 and limiter.wait("eleve.new", "10.0.0.8") == 0
    for i in range(20):
        fail(limiter, "prof.x", f"10.1.0.{i}")
    assert limiter.wait("prof.x", "10.2.0.1") > 0


def test_parallel_attempts_on_one_account_from_one_computer_go_one_at_a_time():
    limiter = AttemptLimiter(clock=Clock())
    assert limiter.begin("eleve.b", "10.0.0.7")
    assert not limiter.begin("eleve.b", "10.0.0.7") and limiter.begin("eleve.b", "10.0.0.8")
    limiter.end("eleve.b", "10.0.0.7", success=False)
    assert limiter.begin("eleve.b", "10.0.0.7")
