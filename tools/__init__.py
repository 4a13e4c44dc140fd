"""Pure-Python helpers (no Odoo import): MIME summaries and mailbox connections."""
