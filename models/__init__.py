from . import fetchmail_server
from . import fetchmail_server_folder
from . import ir_attachment
from . import mail_alias_domain
from . import mail_converter
from . import mail_converter_link
from . import mail_converter_log
from . import mail_thread
