//! Events, lookups and matching, and bulk jobs.

use super::{e, Entry};

pub(super) static TABLE: &[Entry] = &[
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
];
