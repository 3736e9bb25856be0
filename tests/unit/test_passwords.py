from jhub_admin_service.accounts.passwords import hash_many, hash_password, verify_password


def test_yescrypt_hash_verifies():
    hashed = hash_password("pâté:à;la,crème")
    assert hashed.startswith("$y$")
    assert verify_password("pâté:à;la,crème", hashed)
    assert not verify_password("pate", hashed)


def test_salts_differ_and_order_is_kept():
    hashes = hash_many(["a", "b", "a"], workers=2)
    assert len(set(hashes)) == 3
    assert [verify_password(p, h) for p, h in zip("aba", hashes)] == [True, True, True]


def test_locked_hash_never_verifies():
    assert not verify_password("x", "!" + hash_password("x"))


def test_progress_is_reported_while_hashing():
    seen = []
    passwords = [f"pw-{i}" for i in range(250)]
    hashes = hash_many(passwords, workers=2, on_progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 250 and 50 <= len(seen) <= 130
    assert verify_password(passwords[-1], hashes[-1])


def test_no_password_no_thread():
    assert hash_many([]) == []
