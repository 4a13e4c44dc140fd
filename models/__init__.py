from . import mail_converter_filed_mixin
from . import mail_converter_privacy_mixin
from . import crm_lead
from . import fetchmail_server
from . import fetchmail_server_actions
from . import fetchmail_server_fetch
from . import fetchmail_server_health
from . import fetchmail_server_instant
from . import mail_converter_instant_signal
from . import mail_converter_listener
from . import mail_converter_folder
from . import mail_converter_folder_range
from . import mail_converter_contact_claim
from . import mail_converter_import_job
from . import ir_attachment
from . import mail_alias_domain
from . import mail_converter_link
from . import mail_converter_reader
from . import mail_converter_trust
from . import mail_converter_conversation
from . import mail_converter_contacts
from . import mail_converter_privacy
from . import mail_converter_bounce
from . import mail_converter_bcc
from . import mail_converter_pec
from . import mail_converter_helpdesk
from . import mail_converter_acknowledgement
from . import mail_converter_planner
from . import mail_converter
from . import mail_converter_log
from . import mail_converter_rule
from . import mail_converter_rule_condition
from . import mail_converter_tag
from . import mail_message
from . import mail_thread
from . import res_config_settings
from . import res_partner
from . import res_users

# helpdesk workflow
from . import mail_converter_ban
from . import helpdesk_ticket
from . import crm_lead_spam

# conversations (issue 20): what a converted email shows
from . import mail_converter_content
from . import mail_converter_planner_calendar
