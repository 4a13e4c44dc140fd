from . import mail_converter_filed_mixin
from . import crm_lead
from . import fetchmail_server
from . import mail_converter_folder
from . import mail_converter_folder_range
from . import mail_converter_contact_claim
from . import mail_converter_import_job
from . import ir_attachment
from . import mail_alias_domain
from . import mail_converter
from . import mail_converter_link
from . import mail_converter_planner
from . import mail_converter_log
from . import mail_converter_rule
from . import mail_converter_rule_condition
from . import mail_converter_tag
from . import mail_message
from . import mail_thread
from . import res_config_settings
from . import res_partner
from . import res_users

# helpdesk workflow (issue 10)
from . import mail_converter_ban
from . import helpdesk_ticket
from . import crm_lead_spam

# trust only what can be proven (issue 18)
from . import fetchmail_server_auth
from . import mail_converter_sender_auth
from . import mail_converter_planner_auth
from . import fetchmail_server_limits
from . import mail_converter_limits
