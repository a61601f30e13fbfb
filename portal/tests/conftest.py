"""The portal's tests use the apps' own worlds (each defined once, in the app's tests)."""

from activation.tests.conftest import act_world  # noqa: F401
from assessment.tests.conftest import meter_world  # noqa: F401
from market.tests.conftest import mw  # noqa: F401
from portal.tests.browser_support import chromium  # noqa: E402,F401 - the one Chromium fixture of the browser tests
