//! The add-in's own codes (src/addin).

use super::{e, Entry};

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
];
