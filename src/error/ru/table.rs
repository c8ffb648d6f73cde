//! The table: for each of the library's own error codes, its Russian lead and its (English,
//! Russian) description patterns. Data only; [`super`] matches and fills them.

/// The Russian texts of one code.
pub(super) struct Entry {
    pub(super) code: &'static str,
    pub(super) lead: &'static str,
    /// (English pattern, Russian pattern), tried in order: put the specific before the general.
    pub(super) patterns: &'static [(&'static str, &'static str)],
}

const fn e(
    code: &'static str,
    lead: &'static str,
    patterns: &'static [(&'static str, &'static str)],
) -> Entry {
    Entry {
        code,
        lead,
        patterns,
    }
}

/// The answer that is not Bitrix's envelope, whatever its code (`HTTP_502`, `EMPTY_RESPONSE`,
/// `INVALID_RESPONSE`).
const NON_JSON: [(&str, &str); 3] = [
    ("HTTP {} with an empty body", "HTTP {}, пустое тело ответа"),
    (
        "HTTP {} with a non-JSON body: {}",
        "HTTP {}, тело ответа не в формате JSON: {}",
    ),
    (
        "HTTP {} without an error object",
        "HTTP {} без объекта ошибки",
    ),
];

/// The codes that start with `HTTP_` and end with the status.
const HTTP: Entry = e("HTTP_", "портал ответил ошибкой HTTP", &NON_JSON);

pub(super) static TABLE: &[Entry] = &[
    // The add-in's own (src/addin).
    e(
        "NOT_CONNECTED",
        "нет подключения: вызовите Подключить (Connect) или задайте АдресВебхука (WebhookURL)",
        &[(
            "not connected: call Connect (Подключить) or set WebhookURL (АдресВебхука) first",
            "нет подключения: вызовите Подключить (Connect) или задайте АдресВебхука (WebhookURL)",
        )],
    ),
    e(
        "WRONG_PARAM_COUNT",
        "неверное число параметров",
        &[
            (
                "{} takes {} parameter(s), got {}",
                "{}: ожидается параметров: {}, передано: {}",
            ),
            (
                "negative parameter count {}",
                "отрицательное число параметров: {}",
            ),
        ],
    ),
    e(
        "WRONG_PARAM_TYPE",
        "неверный тип параметра",
        &[
            (
                "{} must be a whole number from {} to {}",
                "{} должен быть целым числом от {} до {}",
            ),
            ("{} must be {}, got {}", "{}: ожидается {}, передано: {}"),
        ],
    ),
    e(
        "NULL_PARAMS",
        "параметры не переданы",
        &[(
            "{} parameter(s) announced but none passed",
            "объявлено параметров: {}, но ни один не передан",
        )],
    ),
    e("MALFORMED_VALUE", "значение не удалось прочитать", &[]),
    e(
        "INVALID_UTF16",
        "строка не является правильным текстом UTF-16",
        &[(
            "the string has an unpaired UTF-16 surrogate {} at position {}",
            "в строке непарный суррогат UTF-16 {} в позиции {}",
        )],
    ),
    e(
        "MISSING_PARAM",
        "не задан обязательный параметр",
        &[("{} is required", "не задан обязательный параметр {}")],
    ),
    e(
        "INVALID_UTF8",
        "текст не в кодировке UTF-8",
        &[(
            "{} is not valid UTF-8 (byte {})",
            "{} не является правильным текстом UTF-8 (байт {})",
        )],
    ),
    e(
        "INVALID_TIMEOUT",
        "неверный таймаут",
        &[
            (
                "Timeout must be from {} to {} seconds, got {}: unlike HTTPСоединение, 0 (no timeout) is not accepted, every request is bounded",
                "Таймаут должен быть от {} до {} секунд, передано: {}; в отличие от HTTPСоединение, 0 (без таймаута) не принимается: каждый запрос ограничен по времени",
            ),
            (
                "{} must be a finite, non-negative number of seconds, got {}",
                "{} должен быть конечным неотрицательным числом секунд, передано: {}",
            ),
        ],
    ),
    e(
        "NO_EVENTS",
        "платформа не передала соединение для внешних событий",
        &[(
            "the platform gave no connection for external events (Init was not called)",
            "платформа не передала соединение для внешних событий (Init не вызван)",
        )],
    ),
    e(
        "JOB_RUNNING",
        "задание ещё выполняется",
        &[
            (
                "job {} is still running: one job at a time per object",
                "задание {} ещё выполняется: у одного объекта одновременно выполняется одно задание",
            ),
            ("job {} is still running", "задание {} ещё выполняется"),
        ],
    ),
    e(
        "JOB_NOT_FOUND",
        "задание не найдено",
        &[(
            "no job {}: unknown, or its result was already taken",
            "задание {} не найдено: такого нет, или его результат уже получен",
        )],
    ),
    e(
        "THREAD_FAILED",
        "не удалось запустить поток задания",
        &[(
            "could not start the job's thread: {}",
            "не удалось запустить поток задания: {}",
        )],
    ),
    e(
        "CANCELLED",
        "не отправлено: задание отменено",
        &[(
            "not sent: the job was cancelled before this request went out",
            "не отправлено: задание отменено до отправки этого запроса",
        )],
    ),
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
    // Events.
    e(
        "EVENT_TOO_LARGE",
        "событие слишком большое",
        &[
            (
                "the event body has {} bytes; at most {} are accepted",
                "в теле события {} байт; принимается не больше {}",
            ),
            (
                "the event body holds more than {} name=value pairs",
                "в теле события больше {} пар имя=значение",
            ),
            (
                "the event body holds more than {} JSON values",
                "в теле события больше {} значений JSON",
            ),
        ],
    ),
    e(
        "INVALID_EVENT",
        "неверное событие",
        &[
            (
                "the event body is not valid JSON ({}, line {}, column {})",
                "тело события не является правильным JSON ({}, строка {}, столбец {})",
            ),
            (
                "the event body is JSON but not an object",
                "тело события — JSON, но не объект",
            ),
            (
                "the body has no event name (`event`)",
                "в теле нет имени события (`event`)",
            ),
        ],
    ),
    e(
        "EVENT_TOO_DEEP",
        "слишком глубокая вложенность события",
        &[(
            "the event body nests deeper than {} levels",
            "вложенность тела события больше {} уровней",
        )],
    ),
    e(
        "UNSUPPORTED_CONTENT_TYPE",
        "тип тела события не поддерживается",
        &[(
            "an event body of type {} is not supported; the portal sends application/x-www-form-urlencoded",
            "тело события типа {} не поддерживается; портал присылает application/x-www-form-urlencoded",
        )],
    ),
    e(
        "INVALID_APPLICATION_TOKEN",
        "неверный токен приложения",
        &[(
            "{}: it did not come from the portal, or the handler's token is out of date",
            "{}: событие пришло не с портала, или токен обработчика устарел",
        )],
    ),
    // Lookups and matching.
    e(
        "USER_NOT_FOUND",
        "пользователь не найден",
        &[
            ("no user has {} = {}", "нет пользователя с {} = {}"),
            ("none", "пользователь не найден"),
        ],
    ),
    e(
        "AMBIGUOUS_GUID",
        "GUID найден у нескольких записей",
        &[
            (
                "{} users have {} = {}",
                "найдено пользователей: {}, у которых {} = {}",
            ),
            (
                "{} entities have {} = {}: {}",
                "найдено записей: {}, у которых {} = {}: {}",
            ),
        ],
    ),
    e(
        "FIELD_NOT_VISIBLE",
        "поле не видно вебхуку",
        &[(
            "the portal returned users without field {}: the webhook needs the `user` scope, or the field does not exist",
            "портал вернул пользователей без поля {}: вебхуку нужно право `user`, или такого поля нет",
        )],
    ),
    e(
        "GUID_FIELD_NOT_FILTERABLE",
        "по полю GUID нельзя отобрать записи",
        &[(
            "the portal ignored the filter on {} (is the field code right?), so entities cannot be found by GUID",
            "портал не учёл отбор по полю {} (верен ли код поля?), поэтому записи нельзя найти по GUID",
        )],
    ),
    e(
        "GUID_BUSY",
        "GUID занят другой записью",
        &[(
            "another upsert of the same GUID did not finish in time",
            "другая запись с тем же GUID не закончилась вовремя",
        )],
    ),
    e(
        "MATCH_CONFLICT",
        "неоднозначное сопоставление",
        &[(
            "not adopted, nothing written: by {}, {}: {}",
            "не сопоставлено, ничего не записано: по правилу {}, {}: {}",
        )],
    ),
    // Bulk jobs.
    e(
        "NOT_COMPLETED",
        "запись не выполнена",
        &[
            (
                "the record could not be written within the retry rounds",
                "запись не удалось выполнить за отведённые повторы",
            ),
            (
                "not sent: an earlier write of this GUID may still be running on the portal",
                "не отправлено: прежняя запись этого GUID, возможно, ещё выполняется на портале",
            ),
            (
                "not looked up: a portal limit refused the lookup",
                "не найдено: поиск отклонён лимитом портала",
            ),
        ],
    ),
    e(
        "TIME_LIMITED",
        "не записано за отведённое время",
        &[(
            "not written: the bulk job's deadline (bulk_deadline_secs) passed while the portal's limits held it back",
            "не записано: срок пакетной записи (bulk_deadline_secs) истёк, пока лимиты портала её сдерживали",
        )],
    ),
    e(
        "EXPORT_STALLED",
        "выгрузка остановилась",
        &[
            (
                "the portal returned full pages that did not advance the ID cursor",
                "портал вернул полные страницы, которые не продвинули курсор по ID",
            ),
            (
                "export did not finish within its bound",
                "выгрузка не закончилась в отведённых пределах",
            ),
        ],
    ),
    e(
        "PULL_STALLED",
        "выгрузка изменений остановилась",
        &[
            (
                "the portal returned a full page that did not advance the (DATE_MODIFY, ID) cursor",
                "портал вернул полную страницу, которая не продвинула курсор (DATE_MODIFY, ID)",
            ),
            (
                "the pull did not finish within its bound",
                "выгрузка изменений не закончилась в отведённых пределах",
            ),
        ],
    ),
    // The wire and the portal's answers.
    e(
        "CONNECT_FAILED",
        "не удалось подключиться к порталу",
        &[(
            "could not reach the portal: {}",
            "не удалось подключиться к порталу: {}",
        )],
    ),
    e(
        "TIMEOUT",
        "портал не ответил вовремя",
        &[("no answer in time: {}", "портал не ответил вовремя: {}")],
    ),
    e(
        "CONNECTION_LOST",
        "соединение прервалось",
        &[("the connection broke: {}", "соединение прервалось: {}")],
    ),
    e(
        "DEADLINE_EXCEEDED",
        "срок операции истёк",
        &[(
            "the operation's deadline (deadline_secs) passed before this request could be sent; nothing was sent",
            "срок операции (deadline_secs) истёк раньше, чем удалось отправить этот запрос; ничего не отправлено",
        )],
    ),
    e(
        "RATE_LIMIT_WAIT",
        "нет свободного места в лимите запросов",
        &[(
            "the shared request budget has no free slot before the operation's deadline; nothing was sent",
            "в общем лимите запросов нет свободного места до истечения срока операции; ничего не отправлено",
        )],
    ),
    e(
        "RESPONSE_TOO_LARGE",
        "ответ портала слишком большой",
        &[
            (
                "the answer is larger than {} MiB (max_response_mb)",
                "ответ больше {} МиБ (max_response_mb)",
            ),
            (
                "the answer holds more than {} JSON values",
                "в ответе больше {} значений JSON",
            ),
        ],
    ),
    e("EMPTY_RESPONSE", "портал прислал пустой ответ", &NON_JSON),
    e(
        "INVALID_RESPONSE",
        "ответ портала не соответствует протоколу REST Битрикс24",
        &[
            NON_JSON[0],
            NON_JSON[1],
            (
                "the answer has neither `result` nor `error`",
                "в ответе нет ни `result`, ни `error`",
            ),
            ("the answer is not valid JSON: {}", "ответ не является правильным JSON: {}"),
            ("a list method did not return a list", "метод списка вернул не список"),
            ("{} did not return a list", "{} вернул не список"),
            ("{} did not return an object", "{} вернул не объект"),
            (
                "crm.status.list did not return the {} list",
                "crm.status.list не вернул список {}",
            ),
            ("a listed row has no ID", "в строке списка нет ID"),
            (
                "user.get returned a user without an ID",
                "user.get вернул пользователя без ID",
            ),
            (
                "the batch answer has no result/result_error maps: {}",
                "в ответе пакета нет result/result_error: {}",
            ),
            (
                "the batch answer does not mention command {}",
                "в ответе пакета нет команды {}",
            ),
            ("add returned {}, not an ID", "add вернул {} вместо ID"),
            (
                "{} returned {} instead of the new ID",
                "{} вернул {} вместо ID новой записи",
            ),
            (
                "DATE_MODIFY {} is not an ISO 8601 time with an offset",
                "DATE_MODIFY {} не является временем ISO 8601 со смещением",
            ),
        ],
    ),
    e(
        "OUTCOME_UNKNOWN",
        "запрос отправлен, но неизвестно, выполнился ли он",
        &[
            (
                "the request was sent and may have run on the portal ({}); check (for example by the 1C GUID) before sending it again [not sent again: {}]",
                "запрос отправлен и, возможно, выполнен на портале ({CAUSE}); проверьте (например, по GUID 1С), прежде чем отправлять его снова [повторно не отправлен: {}]",
            ),
            (
                "the request was sent and may have run on the portal ({}); check (for example by the 1C GUID) before sending it again",
                "запрос отправлен и, возможно, выполнен на портале ({CAUSE}); проверьте (например, по GUID 1С), прежде чем отправлять его снова",
            ),
        ],
    ),
    // Failures inside the library.
    e(
        "INTERNAL",
        "внутренняя ошибка библиотеки",
        &[(
            "file placeholder lost during serialisation",
            "при сериализации потерялась метка файла",
        )],
    ),
    e(
        "INTERNAL_PANIC",
        "внутренняя ошибка библиотеки",
        &[(
            "the library hit an internal error; the call was abandoned",
            "внутренняя ошибка библиотеки; вызов прерван",
        )],
    ),
];

/// The entry of `code`: its own, or the one of every `HTTP_<status>`.
pub(super) fn entry(code: &str) -> Option<&'static Entry> {
    if let Some(status) = code.strip_prefix("HTTP_") {
        if !status.is_empty() && status.bytes().all(|b| b.is_ascii_digit()) {
            return Some(&HTTP);
        }
    }
    TABLE.iter().find(|e| e.code == code)
}
