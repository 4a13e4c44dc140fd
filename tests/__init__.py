from . import test_bad_input
from . import test_concurrency
from . import test_fetch
from . import test_linking
from . import test_matching
from . import test_operations
from . import test_plan
from . import test_privacy
from . import test_protocols
from . import test_rules
from . import test_scale
from . import test_security
from . import test_special
from . import test_ui
from . import test_helpdesk

from . import test_hostile
from . import test_multicompany
from . import test_trust
from . import test_loading
from . import test_extending

from . import test_instant

from . import test_conversations

from . import test_oauth
from . import test_sender_auth
from . import test_parser_bombs
from . import test_spam_rights
from . import test_batch
from . import test_rpc_attacks
from . import test_parsing
