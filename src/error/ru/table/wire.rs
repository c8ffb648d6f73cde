//! The wire and the portal's answers, and failures inside the library.

use super::{e, Entry, NON_JSON};

pub(super) static TABLE: &[Entry] = &[
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
