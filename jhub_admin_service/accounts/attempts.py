"""How many wrong passwords an account and a computer may type before they wait.

The hub's login (hubpages/authenticator.py) and the password page (service/password_app.py)
ask a limiter before they ask PAM, and tell it how PAM answered. PAM's own failure delay is
off (docker/pam.d/jupyterhub): it held one of the hub's four PAM threads for 3 s per wrong
password, so one pupil's parallel guesses delayed everyone's login. The wait is here instead,
and a refused attempt costs no thread at all.

Failures are counted per account and computer: a pupil who guesses a classmate's password waits,
the classmate at their own computer does not. A class behind one address (a school's NAT) shares
a larger allowance for the computer as a whole, and an account guessed from many computers
waits too. Pure: the clock is given; one limiter per process, in memory.
"""
import time
from collections import defaultdict, deque
from typing import Callable, Deque, Dict, Hashable, Set, Tuple

#: After this many failures within WINDOW, the next attempt waits FIRST_WAIT, then twice as
#: long after each further failure, at most the window.
FAILURES_PER_ACCOUNT_AND_CLIENT = 5
FAILURES_PER_CLIENT = 50
FAILURES_PER_ACCOUNT = 20
WINDOW = 15 * 60
FIRST_WAIT = 60
MAX_KEYS = 10000


class AttemptLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic, window: float = WINDOW,
                 per_account_and_client: int = FAILURES_PER_ACCOUNT_AND_CLIENT,
                 per_client: int = FAILURES_PER_CLIENT, per_account: int = FAILURES_PER_ACCOUNT,
                 first_wait: float = FIRST_WAIT):
        self.clock, self.window, self.first_wait = clock, window, first_wait
        self.allowances = {"pair": per_account_and_client, "client": per_client, "account": per_account}
        self.failures: Dict[Tuple[str, Hashable], Deque[float]] = defaultdict(deque)
        self.in_flight: Set[Tuple[str, str]] = set()

    def _keys(self, login: str, client: str):
        return (("pair", (login, client)), ("client", client), ("account", login))

    def _recent(self, key) -> Deque[float]:
        times = self.failures.get(key)
        if times is None:
            return deque()
        horizon = self.clock() - self.window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self.failures[key]
        return times

    def wait(self, login: str, client: str) -> float:
        """Seconds before login may be tried from client (0: now)."""
        longest = 0.0
        for kind, key in self._keys(login, client):
            times = self._recent((kind, key))
            over = len(times) - self.allowances[kind]
            if over >= 0:
                wait = min(self.first_wait * 2 ** over, self.window)
                longest = max(longest, times[-1] + wait - self.clock())
        return max(longest, 0.0)

    def begin(self, login: str, client: str) -> bool:
        """False while the same account is being tried from the same client: parallel guesses
        would each hold a PAM thread before the first failure counted."""
        if (login, client) in self.in_flight:
            return False
        self.in_flight.add((login, client))
        return True

    def end(self, login: str, client: str, success: bool) -> None:
        self.in_flight.discard((login, client))
        if success:
            # The account's owner at their computer: their own count starts again.
            self.failures.pop(("pair", (login, client)), None)
            return
        now = self.clock()
        for kind, key in self._keys(login, client):
            self.failures[(kind, key)].append(now)
        if len(self.failures) > MAX_KEYS:  # guesses sprayed over many names: forget what aged out
            for key in list(self.failures):
                self._recent(key)
