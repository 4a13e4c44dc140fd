from . import mail_converter_folder_wizard
from . import mail_converter_folder_wizard_line
from . import mail_converter_simulator
from . import mail_converter_import
