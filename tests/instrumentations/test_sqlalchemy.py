"""SQLAlchemy has no spans of its own: through an instrumented driver, ORM and Core
queries give exactly one span per statement SQLAlchemy sends."""

import pytest

from support import mysql_arguments

DRIVERS = {
    "sqlite3": lambda request: "sqlite://",
    "psycopg": lambda request: "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "psycopg2": lambda request: "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
    "pymysql": lambda request: "mysql+pymysql://{user}@{host}:{port}/{database}".format(**mysql_arguments(
        request.getfixturevalue("mysql_url"))),
}


@pytest.fixture(params=sorted(DRIVERS))
def engine(request, instrument):
    import sqlalchemy

    if request.param.startswith("psycopg"):
        request.getfixturevalue("pg_dsn")
    instrument(request.param)
    engine = sqlalchemy.create_engine(DRIVERS[request.param](request))
    sent = []
    sqlalchemy.event.listen(engine, "before_cursor_execute",
                            lambda conn, cursor, statement, *rest: sent.append(statement))
    with engine.connect() as connection:   # the dialect's own first-connect queries
        connection.exec_driver_sql("SELECT 1")
    engine.sent = sent
    yield engine
    engine.dispose()


def test_core_and_orm_make_one_span_per_statement(engine, spans):
    from sqlalchemy import Column, Integer, String, select, text
    from sqlalchemy.orm import Session, declarative_base

    Base = declarative_base()

    class Customer(Base):
        __tablename__ = "at_sa_customers"
        id = Column(Integer, primary_key=True)
        email = Column(String(100))

    Base.metadata.drop_all(engine)
    engine.sent.clear()
    before = len(spans())
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Customer(email="secret-one@example.com"), Customer(email="secret-two@example.com")])
        session.commit()
        found = session.scalars(select(Customer).where(Customer.email == "secret-one@example.com")).all()
        assert [c.email for c in found] == ["secret-one@example.com"]
    with engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM at_sa_customers")).scalar() == 2
    Base.metadata.drop_all(engine)

    made = spans()[before:]
    assert len(made) == len(engine.sent), ([s.name for s in made], engine.sent)
    assert any(s.name == "SELECT at_sa_customers" for s in made)
    assert any(s.name == "INSERT at_sa_customers" for s in made)
    assert "secret-" not in str([dict(s.attributes) for s in made])
