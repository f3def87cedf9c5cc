"""The ledger's schema (version 2: many tickers per experiment) and the migration of a version 1 ledger.

Version 2 lets an experiment trade many tickers: orders and forecasts carry their ticker (a fill
carries it through its order, one fill per order), several orders may be queued at once (one per
ticker) and several fills made a day; positions always had a ticker. A model version may hold the
files of many tickers (each file entry names its ticker). Version 1 (one ticker per experiment)
is migrated in one transaction: each table whose constraints changed is rebuilt and its rows
copied, the experiment's ticker filled in from its config, every row counted and every foreign key
checked before the commit; on any failure nothing is changed and the ledger is refused.
"""

from __future__ import annotations

import json
import sqlite3

SCHEMA_VERSION = 2

TABLES = {
    "experiments": """CREATE TABLE experiments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    created TEXT NOT NULL
)""",
    "days": """CREATE TABLE days (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    step INTEGER NOT NULL CHECK (step >= 0),
    date TEXT NOT NULL,
    close REAL NOT NULL,
    cash REAL NOT NULL,
    equity REAL NOT NULL,
    PRIMARY KEY (experiment_id, step),
    UNIQUE (experiment_id, date)
)""",
    "positions": """CREATE TABLE positions (
    experiment_id INTEGER NOT NULL,
    date TEXT NOT NULL,
    ticker TEXT NOT NULL,
    size INTEGER NOT NULL,
    price REAL NOT NULL,
    PRIMARY KEY (experiment_id, date, ticker),
    FOREIGN KEY (experiment_id, date) REFERENCES days(experiment_id, date)
)""",
    "orders": """CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    decision_date TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size != 0),
    created_price REAL NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'filled', 'rejected')),
    ticker TEXT NOT NULL DEFAULT '',
    UNIQUE (experiment_id, decision_date, ticker)
)""",
    "fills": """CREATE TABLE fills (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL UNIQUE REFERENCES orders(id),
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    date TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('buy', 'sell')),
    size INTEGER NOT NULL CHECK (size > 0),
    price REAL NOT NULL,
    value REAL NOT NULL,
    commission REAL NOT NULL
)""",
    "models": """CREATE TABLE models (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    version INTEGER NOT NULL CHECK (version >= 1),
    date TEXT NOT NULL,
    train_start TEXT NOT NULL,
    train_end TEXT NOT NULL,
    n_train INTEGER NOT NULL,
    epochs REAL,
    val_loss REAL,
    seconds REAL NOT NULL,
    files TEXT NOT NULL,
    PRIMARY KEY (experiment_id, version)
)""",
    "forecasts": """CREATE TABLE forecasts (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    origin_date TEXT NOT NULL,
    forecast REAL NOT NULL,
    close REAL NOT NULL,
    model_version INTEGER NOT NULL,
    ticker TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (experiment_id, origin_date, ticker),
    FOREIGN KEY (experiment_id, model_version) REFERENCES models(experiment_id, version)
)""",
}
QUEUED_INDEX = "CREATE UNIQUE INDEX one_queued_order ON orders(experiment_id, ticker) WHERE status = 'queued'"
SCHEMA = ";\n".join([*TABLES.values(), QUEUED_INDEX]) + ";"
# Version 1 -> 2: the tables rebuilt, and the columns copied (the new ``ticker`` comes from the config).
_REBUILT = {
    "orders": "id, experiment_id, decision_date, size, created_price, status",
    "fills": "id, order_id, experiment_id, date, action, size, price, value, commission",
    "forecasts": "experiment_id, origin_date, forecast, close, model_version",
}


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def _tickers(conn: sqlite3.Connection) -> dict[int, str]:
    """Each experiment's ticker, from its stored config."""
    out = {}
    for eid, config in conn.execute("SELECT id, config FROM experiments"):
        out[eid] = str(json.loads(config)["data"]["ticker"])
    return out


def migrate_from_1(conn: sqlite3.Connection) -> None:
    """Rebuild version 1's tables as version 2's inside the caller's open write transaction.

    Raises ValueError (the caller rolls back) when a table does not hold what version 1 holds,
    a row would be lost, or a foreign key would point nowhere.
    """
    before = _counts(conn)
    tickers = _tickers(conn)
    conn.execute("DROP INDEX IF EXISTS one_queued_order")
    for table, columns in _REBUILT.items():
        conn.execute(TABLES[table].replace(f"CREATE TABLE {table}", f"CREATE TABLE {table}_v2", 1))
        conn.execute(f"INSERT INTO {table}_v2 ({columns}) SELECT {columns} FROM {table}")
        conn.execute(f"DROP TABLE {table}")
        conn.execute(f"ALTER TABLE {table}_v2 RENAME TO {table}")
    for eid, ticker in tickers.items():
        for table in ("orders", "forecasts"):
            conn.execute(f"UPDATE {table} SET ticker = ? WHERE experiment_id = ?", (ticker, eid))
    conn.execute(QUEUED_INDEX)
    after = _counts(conn)
    if after != before:
        raise ValueError(f"rows would change ({before} before, {after} after)")
    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise ValueError(f"{len(broken)} rows would reference missing rows (first: {broken[0]})")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def migrate(conn: sqlite3.Connection) -> bool:
    """Bring an open ledger (autocommit connection, foreign keys off) to this version; whether it migrated.

    The version is read again inside the write transaction, so two processes opening the same
    old ledger migrate it once. ValueError (nothing changed) when it cannot be migrated.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            conn.execute("ROLLBACK")
            return False
        if version != 1:
            raise ValueError(f"it has ledger schema {version}; this bt reads schemas 1 (migrated) and {SCHEMA_VERSION}")
        migrate_from_1(conn)
    except (sqlite3.Error, ValueError, KeyError, TypeError) as exc:
        conn.execute("ROLLBACK")
        raise ValueError(str(exc)) from None
    conn.execute("COMMIT")
    return True
