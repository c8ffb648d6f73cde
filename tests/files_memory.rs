//! Files held in memory (`files::store`, what 1C's ДвоичныеДанные become) sent by
//! `{"fileId": ...}` over a real socket to the emulator, which must receive them intact.

mod common;

use bitrix24_1c::api::{self, Entity};
use bitrix24_1c::files;
use bitrix24_1c::Lang;
use common::*;
use serde_json::json;

#[test]
fn file_from_memory_arrives_intact() {
    let (emu, c) = setup();
    let data: Vec<u8> = (0..1_000_003u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    let f = files::store("фото.jpg".into(), data.clone()).unwrap();
    assert_eq!(f.size, data.len() as u64);
    let body = json!({"NAME": "Из памяти", "PHOTO": {"fileId": f.token}, "UF_CRM_1707822691457": [{"fileId": f.token, "fileName": "паспорт.pdf"}]});
    let id = ok(api::create(&c, Entity::Contact, &body.to_string()))
        .as_i64()
        .unwrap();
    let got = ok(api::get(&c, Entity::Contact, id));
    let photo = got["PHOTO"]["id"]
        .as_u64()
        .or_else(|| got["PHOTO"]["id"].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("PHOTO has no file id: {}", got["PHOTO"]));
    assert_eq!(emu.file_bytes(photo).unwrap(), data);
    let uf = got["UF_CRM_1707822691457"][0]["id"].as_u64().unwrap();
    assert_eq!(emu.file_bytes(uf).unwrap(), data);

    // Released: refused before anything is sent.
    files::release(std::slice::from_ref(&f.token));
    let before = emu.stats().requests;
    let reply = api::create(&c, Entity::Contact, &body.to_string());
    let e = err(reply.clone());
    assert_eq!(
        (e["code"].as_str(), e["kind"].as_str()),
        (Some("UNKNOWN_FILE_ID"), Some("invalid_input"))
    );
    assert_eq!(emu.stats().requests, before, "nothing was sent");
    let ru: serde_json::Value = serde_json::from_str(&api::envelope_in(&reply, Lang::Ru)).unwrap();
    assert!(
        ru["error"]["description"]
            .as_str()
            .unwrap()
            .starts_with("в памяти нет файла с fileId"),
        "{ru}"
    );
}
