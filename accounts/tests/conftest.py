from assessment.tests.conftest import meter_world  # noqa: F401 - the shared premises/meters/users fixture
