"""``odoo-bin mail_converter_idle``: the Instant delivery listener of mail_converter.

Odoo finds this file as ``<addon>/cli/mail_converter_idle.py`` on the addons path.
"""

import logging
import optparse
import signal
import sys
import threading

from odoo.cli.command import Command
from odoo.tools import config

_logger = logging.getLogger(__name__)


class MailConverterIdle(Command):
    """Watch the converter mailboxes that have Instant delivery on, with IMAP IDLE.

    Run one or more of these per database, on any hosts: each mailbox is watched by
    one of them; the others stand by and take over when it stops. New mail makes a
    cron worker fetch the mailbox; this process converts nothing itself.
    """

    name = "mail_converter_idle"

    def run(self, args):
        parser = config.parser
        parser.prog = self.prog
        group = optparse.OptionGroup(parser, "Mail converter Instant delivery")
        group.add_option(
            "--rescan-interval",
            dest="mail_converter_rescan",
            type="int",
            my_default=30,
            help="Seconds between two reads of the mailboxes' settings (and takeover attempts).",
        )
        parser.add_option_group(group)
        opt = config.parse_config(args, setup_logging=True)
        dbnames = config["db_name"]
        if not dbnames:
            sys.exit("mail_converter_idle needs a database: use -d")

        from odoo.addons.mail_converter.services.instant_listener import InstantListener

        stop = threading.Event()

        def on_signal(_signum, _frame):
            _logger.info("Stopping the Instant delivery listener")
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        threads = [
            threading.Thread(
                target=InstantListener(dbname, rescan=opt.mail_converter_rescan).run,
                args=(stop,),
                name=f"mail_converter_idle {dbname}",
            )
            for dbname in dbnames
        ]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(1)
