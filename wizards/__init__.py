from . import mail_converter_folder_wizard
from . import mail_converter_folder_wizard_line
from . import mail_converter_simulator
from . import mail_converter_import

# helpdesk workflow (issue 10)
from . import mail_converter_spam
from . import mail_compose_message
