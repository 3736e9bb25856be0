"""A registry made by an earlier version opens with the columns added since, its rows kept."""
import sqlite3

from jhub_admin_service.accounts.registry import SCHEMA, Registry

#: The accounts table as the first versions made it (no hub_admin, no external_id column).
OLD_SCHEMA = SCHEMA.replace("    -- 1 for a teacher who is also one of the hub's admins (the role stays 'teacher').\n"
                            "    hub_admin INTEGER NOT NULL DEFAULT 0,\n", "").replace(
    "    -- The person's identifier in the school's lists (ENT Id, INE): what a corrected name keeps.\n"
    "    external_id TEXT NOT NULL DEFAULT '',\n", "")


def test_an_old_registry_gains_the_admin_rights_column_and_keeps_its_rows(tmp_path):
    assert "hub_admin" not in OLD_SCHEMA and "external_id" not in OLD_SCHEMA
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO accounts (login, uid, gid, role, password_hash, created_at, updated_at)"
               " VALUES ('m.durand', 10000, 10000, 'teacher', '$y$x', 0, 0)")
    db.commit()
    db.close()
    before = Registry(str(path), readonly=True).get("m.durand")  # read-only: read as it is
    assert before.role == "teacher" and before.hub_admin is False and before.external_id == ""
    registry = Registry(str(path))
    assert registry.get("m.durand").hub_admin is False
    with registry.transaction() as db:
        registry.update(db, "m.durand", hub_admin=True, external_id="a1")
    registry.close()
    again = Registry(str(path))  # opening twice adds nothing twice
    account = again.get("m.durand")
    assert account.hub_admin is True and account.is_admin and account.to_json()["admin"] is True
    assert account.external_id == "a1"
