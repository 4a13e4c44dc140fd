"""19.0.1.1.0 renames our folder model so it can live beside OCA's fetchmail_from_imap_folder.

``fetchmail.server.folder`` (table ``fetchmail_server_folder``, field
``fetchmail.server.folder_ids``) becomes ``mail.converter.folder``
(``converter_folder_ids``). Rename in place, before the registry loads, so
folders, their UIDs and the log's references survive the upgrade.
"""

import logging

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    cr.execute(
        "SELECT 1 FROM ir_model_data WHERE module = 'mail_converter' AND name = 'model_fetchmail_server_folder'"
    )
    if not cr.fetchone():
        return  # a fresh install, or the model belongs to another module
    cr.execute("SELECT to_regclass('mail_converter_folder')")
    if cr.fetchone()[0]:
        return
    _logger.info("mail_converter: renaming fetchmail.server.folder to mail.converter.folder")
    cr.execute("ALTER TABLE fetchmail_server_folder RENAME TO mail_converter_folder")
    cr.execute(
        "ALTER SEQUENCE IF EXISTS fetchmail_server_folder_id_seq RENAME TO mail_converter_folder_id_seq"
    )
    for table, column in (
        ("ir_model", "model"),
        ("ir_model_fields", "model"),
        ("ir_model_fields", "relation"),
        ("ir_model_data", "model"),
    ):
        cr.execute(
            f"UPDATE {table} SET {column} = 'mail.converter.folder' "  # constant names only
            f"WHERE {column} = 'fetchmail.server.folder'"
        )
    cr.execute(
        "UPDATE ir_model_fields SET name = 'converter_folder_ids' "
        "WHERE model = 'fetchmail.server' AND name = 'folder_ids' "
        "AND relation = 'mail.converter.folder'"
    )
    cr.execute(
        "UPDATE ir_model_data SET name = replace(name, 'fetchmail_server_folder', 'mail_converter_folder') "
        "WHERE module = 'mail_converter' AND name LIKE '%%fetchmail_server_folder%%'"
    )
