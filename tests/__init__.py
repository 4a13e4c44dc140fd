from . import test_bad_input
from . import test_concurrency
from . import test_fetch
from . import test_linking
from . import test_matching
from . import test_protocols
from . import test_rules
from . import test_security
