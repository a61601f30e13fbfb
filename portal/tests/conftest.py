"""The portal's tests use the apps' own worlds (each defined once, in the app's tests)."""

from activation.tests.conftest import act_world  # noqa: F401
from assessment.tests.conftest import meter_world  # noqa: F401
from market.tests.conftest import mw  # noqa: F401
