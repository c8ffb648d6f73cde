//! What the caller sent: configuration, JSON, IDs, fields, methods.

use super::{e, Entry};

pub(super) static TABLE: &[Entry] = &[
    // Input.
    e(
        "INVALID_ID",
        "неверный идентификатор",
        &[(
            "ID must be a positive integer, got {}",
            "ID должен быть положительным целым числом, передано: {}",
        )],
    ),
    e(
        "INVALID_JSON",
        "неверный JSON",
        &[(
            "{} is not valid JSON (line {}, column {})",
            "{} не является правильным JSON (строка {}, столбец {})",
        )],
    ),
    e(
        "INVALID_RECORDS",
        "неверный список записей",
        &[(
            "records must be a JSON array, or {\"records\": [...], \"create_only\": [...], \"exact\": [...], \"exact_clears\": false, \"match\": [...], \"dry_run\": false}",
            "записи должны быть массивом JSON или объектом {\"records\": [...], \"create_only\": [...], \"exact\": [...], \"exact_clears\": false, \"match\": [...], \"dry_run\": false}",
        )],
    ),
    e(
        "INVALID_PARAMS",
        "неверные параметры",
        &[
            ("params must be a JSON object", "params должен быть объектом JSON"),
            ("filter must be an object", "filter должен быть объектом"),
            (
                "settle_secs must be a whole number of seconds from 0 to 300",
                "settle_secs должен быть целым числом секунд от 0 до 300",
            ),
            (
                "filter key {}: a pull sets the DATE_MODIFY and ID conditions itself",
                "ключ отбора {}: условия по DATE_MODIFY и ID выгрузка изменений задаёт сама",
            ),
            ("a pull sets {} itself", "{} выгрузка изменений задаёт сама"),
        ],
    ),
    e(
        "INVALID_FIELDS",
        "неверные поля",
        &[
            ("fields must be a JSON object", "fields должен быть объектом JSON"),
            ("\"fields\" must be a JSON object", "\"fields\" должен быть объектом JSON"),
            ("\"params\" must be a JSON object", "\"params\" должен быть объектом JSON"),
            (
                "\"exact_clears\" must be true or false",
                "\"exact_clears\" должен быть true или false",
            ),
            (
                "unexpected key {} next to \"fields\" (only \"fields\", \"params\", \"create_only\", \"exact\" and \"exact_clears\" are allowed there)",
                "лишний ключ {} рядом с \"fields\" (там допустимы только \"fields\", \"params\", \"create_only\", \"exact\" и \"exact_clears\")",
            ),
            (
                "ID (the Bitrix ID from the last sync) must be a positive integer",
                "ID (ID Битрикс24 из последнего обмена) должен быть положительным целым числом",
            ),
            (
                "\"exact\" must be a list of multi-field names (PHONE, EMAIL, WEB, IM, LINK)",
                "\"exact\" должен быть списком имён множественных полей (PHONE, EMAIL, WEB, IM, LINK)",
            ),
            (
                "\"create_only\" must be a list of field names",
                "\"create_only\" должен быть списком имён полей",
            ),
            (
                "{}: null cannot clear a multi-field; set it to an empty list with b24_set_contact_multifield / b24_set_company_multifield",
                "{}: null не очищает множественное поле; задайте пустой список через b24_set_contact_multifield / b24_set_company_multifield",
            ),
        ],
    ),
    e("UNKNOWN_FIELDS", "неизвестные поля", &[]),
    e("INVALID_VALUE", "неверные значения полей", &[]),
    e(
        "INVALID_FIELD",
        "неверное поле",
        &[(
            "{} is not a multi-field ({})",
            "{} не является множественным полем ({})",
        )],
    ),
    e(
        "INVALID_VALUES",
        "неверные значения множественного поля",
        &[
            ("values must be a JSON array", "значения должны быть массивом JSON"),
            ("{}: values must be a JSON array", "{}: значения должны быть массивом JSON"),
            (
                "{}: each value must be a string or {\"VALUE\",\"VALUE_TYPE\"}",
                "{}: каждое значение должно быть строкой или объектом {\"VALUE\",\"VALUE_TYPE\"}",
            ),
            ("{}: values must not be empty", "{}: список значений не должен быть пустым"),
        ],
    ),
    e(
        "INVALID_GUID",
        "неверный GUID",
        &[
            (
                "a GUID cannot hold $result[-like text in a batch",
                "GUID не может содержать текст вида $result[ в пакете",
            ),
            (
                "GUID must be a non-empty string without control characters",
                "GUID должен быть непустой строкой без управляющих символов",
            ),
        ],
    ),
    e(
        "MISSING_GUID",
        "нет GUID",
        &[
            ("record {} has no GUID in {}", "у записи {} нет GUID в поле {}"),
            (
                "the fields must carry the 1C GUID in {}",
                "в полях должен быть GUID 1С в поле {}",
            ),
        ],
    ),
    e(
        "INVALID_METHOD",
        "неверный метод",
        &[
            (
                "method name {} is not a Bitrix24 method name (letters, digits, '_' and '.')",
                "{} не является именем метода Битрикс24 (буквы, цифры, '_' и '.')",
            ),
            ("export works with *.list methods", "выгрузка работает с методами *.list"),
            (
                "pull works with the legacy crm.<entity>.list methods (crm.contact.list, crm.company.list, ...)",
                "выгрузка изменений работает со старыми методами crm.<сущность>.list (crm.contact.list, crm.company.list, ...)",
            ),
            (
                "{} has no DATE_MODIFY field to pull changes by",
                "у {} нет поля DATE_MODIFY, по которому выгружаются изменения",
            ),
        ],
    ),
    e(
        "INVALID_COMMANDS",
        "неверные команды пакета",
        &[
            (
                "commands must be a JSON object or array",
                "команды должны быть объектом или массивом JSON",
            ),
            ("no commands given", "команды не заданы"),
            ("command name {} is not allowed", "недопустимое имя команды {}"),
            ("command {}: params must be an object", "команда {}: params должен быть объектом"),
            (
                "command {} must be \"method?query\" or {\"method\",\"params\"}",
                "команда {} должна быть строкой \"method?query\" или объектом {\"method\",\"params\"}",
            ),
            ("command {}: batch cannot be nested", "команда {}: пакет нельзя вложить в пакет"),
            ("command {}: {}", "команда {}: {INVALID_METHOD}"),
        ],
    ),
    e(
        "CROSS_BATCH_REFERENCE",
        "ссылка на команду из другого запроса пакета",
        &[(
            "command {} refers to {}, which lands in another request of 50; keep chained commands within 50",
            "команда {} ссылается на {}, которая попадает в другой запрос из 50 команд; связанные команды должны быть в пределах 50",
        )],
    ),
    e(
        "INVALID_FILE",
        "файл не удалось использовать",
        &[
            ("filePath must be a non-empty string", "filePath должен быть непустой строкой"),
            ("cannot read file {}: {}", "не удалось прочитать файл {}: {}"),
            ("{} is not a file", "{} не является файлом"),
            (
                "the files of one request exceed {} MiB",
                "файлы одного запроса больше {} МиБ",
            ),
            ("not enough memory for the files", "недостаточно памяти для файлов"),
            ("file {} changed while it was read", "файл {} изменился во время чтения"),
            (
                "filePath and fileId are supported by single writes, not by bulk upsert",
                "filePath и fileId поддерживаются при записи по одной, а не в пакетной записи",
            ),
            (
                "give filePath or fileId, not both",
                "укажите filePath или fileId, но не оба сразу",
            ),
            ("fileId must be a non-empty string", "fileId должен быть непустой строкой"),
            ("cannot write {}: {}", "не удалось записать {}: {}"),
        ],
    ),
    e(
        "UNKNOWN_FILE_ID",
        "файл не найден в памяти",
        &[(
            "no file in memory has fileId {} (it was never added, or it was removed)",
            "в памяти нет файла с fileId {} (он не был добавлен или уже удалён)",
        )],
    ),
    e(
        "FILES_TOO_LARGE",
        "файлы не помещаются в память",
        &[
            (
                "a file in memory may take at most {} MiB, this one is {} bytes",
                "файл в памяти может занимать не больше {} МиБ, а этот — {} байт",
            ),
            (
                "the files in memory would take more than {} MiB; remove the files no longer needed first",
                "файлы в памяти заняли бы больше {} МиБ; сначала удалите ненужные файлы",
            ),
            (
                "at most {} files may be held in memory; remove the files no longer needed first",
                "в памяти может быть не больше {} файлов; сначала удалите ненужные файлы",
            ),
        ],
    ),
    e(
        "INVALID_CONFIG",
        "неверные настройки",
        &[
            ("settings must be a JSON object", "настройки должны быть объектом JSON"),
            (
                "configuration JSON is invalid at line {} column {}: {}",
                "ошибка в JSON настроек, строка {}, столбец {}: {}",
            ),
            (
                "{} must be a number of seconds in (0, 3600]",
                "{} должен быть числом секунд больше 0 и не больше 3600",
            ),
            (
                "{} must be a number of seconds from {} to {}",
                "{} должен быть числом секунд от {} до {}",
            ),
            (
                "guid_fields.user must start with UF_USR_ (the portal ignores other user filters)",
                "guid_fields.user должен начинаться с UF_USR_ (другие отборы пользователей портал не учитывает)",
            ),
            (
                "guid_fields.{} must be a field code like UF_CRM_123",
                "guid_fields.{} должен быть кодом поля вида UF_CRM_123",
            ),
            (
                "max_response_mb must be a number from 1 to 1024",
                "max_response_mb должен быть числом от 1 до 1024",
            ),
            (
                "rate_limit must be false or {\"burst\":N,\"per_second\":N} with burst from {} to {} and per_second from {} to {}",
                "rate_limit должен быть false или {\"burst\":N,\"per_second\":N}, где burst от {} до {}, а per_second от {} до {}",
            ),
            (
                "proxy must be an http://, https://, socks5:// or socks5h:// URL with a host: {}",
                "proxy должен быть адресом http://, https://, socks5:// или socks5h:// с именем хоста: {}",
            ),
            ("proxy URL is invalid: {}", "неверный адрес прокси: {}"),
            ("match.{}: {}", "match.{}: {INVALID_MATCH}"),
            (
                "match must be an object: {\"contact\": [rules], \"company\": [rules]}",
                "match должен быть объектом: {\"contact\": [правила], \"company\": [правила]}",
            ),
            ("ca_cert_path holds no certificate", "в файле ca_cert_path нет сертификата"),
            (
                "ca_cert_path is not a PEM certificate: {}",
                "ca_cert_path не является сертификатом PEM: {}",
            ),
        ],
    ),
    e(
        "INVALID_WEBHOOK_URL",
        "неверный адрес вебхука",
        &[(
            "webhook URL must look like https://PORTAL/rest/USER_ID/SECRET/: {}",
            "адрес вебхука должен иметь вид https://ПОРТАЛ/rest/ID_ПОЛЬЗОВАТЕЛЯ/СЕКРЕТ/: {}",
        )],
    ),
    e(
        "HTTP_CLIENT",
        "не удалось запустить HTTP-клиент",
        &[(
            "cannot start the HTTP client: {}",
            "не удалось запустить HTTP-клиент: {}",
        )],
    ),
    e(
        "INVALID_MATCH",
        "неверные правила сопоставления",
        &[
            ("dry_run must be true or false", "dry_run должен быть true или false"),
            ("\"match\" must be an array of rules", "\"match\" должен быть массивом правил"),
            ("at most 10 match rules", "не больше 10 правил сопоставления"),
            (
                "comm must be \"PHONE\" or \"EMAIL\", not {}",
                "comm должен быть \"PHONE\" или \"EMAIL\", а не {}",
            ),
            (
                "{} is not a field a rule can compare (an upper-case field code, not the GUID field, not a multi-field: use {\"comm\": \"PHONE\"} for phones)",
                "{} нельзя сравнивать в правиле (нужен код поля в верхнем регистре, не поле GUID и не множественное поле: для телефонов используйте {\"comm\": \"PHONE\"})",
            ),
            (
                "{} is not a rule: {\"field\": F}, {\"fields\": [F, ...]} (up to 5) or {\"comm\": \"PHONE\"|\"EMAIL\"}",
                "{} не является правилом: {\"field\": F}, {\"fields\": [F, ...]} (до 5 полей) или {\"comm\": \"PHONE\"|\"EMAIL\"}",
            ),
        ],
    ),
    e(
        "INVALID_CURSOR",
        "неверный курсор",
        &[
            ("the cursor is not valid: {}", "курсор неверен: {}"),
            ("the cursor belongs to {}, not {}", "курсор относится к {}, а не к {}"),
        ],
    ),
    e(
        "TOO_MANY_IDS",
        "слишком много ID",
        &[("a cursor keeps at most {} IDs", "курсор хранит не больше {} ID")],
    ),
    e(
        "NULL_ARGUMENT",
        "не передан обязательный аргумент",
        &[("{} is NULL", "{} равен NULL")],
    ),
];
