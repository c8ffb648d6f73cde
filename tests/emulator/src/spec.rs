//! The customer's spec examples (`shared/spec/1c-bitrix24-integration.md`, "Создать контакт" and
//! "Создать компанию"), as the `fields` objects the spec sends: one copy for the demo and the
//! tests alike.

use serde_json::{json, Value};

/// The spec's contact fields, linked to `company` by `COMPANY`.
pub fn contact_fields(company: &str) -> Value {
    json!({
        "NAME": "Անուն", "LAST_NAME": "Ազգանուն", "SECOND_NAME": "Հայրանուն",
        "PHONE": [{"VALUE": "+37498888888"}, {"VALUE": "+37498888888"}],
        "EMAIL": [{"VALUE": "test1@gmail.com"}, {"VALUE": "test2@gmail.com"}],
        "UF_CRM_1721896329420": "Իրավաբանական հասցե",
        "UF_CRM_1723108337023": "Գործունեության հասցե",
        "UF_CRM_664DBFBD43D75": ["Կայանի տեղադրման հասցե 1", "Կայանի տեղադրման հասցե 2"],
        "UF_CRM_1707822379207": "Անձնագիր",
        "UF_CRM_1707822426950": "2024-08-08T14:05:21+04:00",
        "UF_CRM_1707822448806": "Ում կողմից",
        "UF_CRM_1707822458574": "ՀԾՀ",
        "UF_CRM_1707822731302": "464",
        "UF_CRM_1707822585830": "Հ/Հ",
        "COMPANY": [company],
        "TYPE_ID": "UC_DIUN9M",
        "COMMENTS": "Մեկնաբանություն",
        "ASSIGNED_BY_ID": "16",
        "UF_CRM_1707822691457": [{"fileData": ["test1.txt", "AA=="]}, {"fileData": ["test2.txt", "AA=="]}],
        "UF_CRM_1723100443089": "GUID ID Contact",
        "UF_CRM_1723100456115": "CODE Contact "
    })
}

/// The spec's company fields, without `CONTACT` (the contact to link does not exist yet).
pub fn company_fields() -> Value {
    json!({
        "TITLE": "Կազմակերպության անվանում",
        "UF_CRM_1721909503670": "Աշխատանքային անվանում",
        "PHONE": [{"VALUE": "+37498888888"}, {"VALUE": "+37498888889"}],
        "EMAIL": [{"VALUE": "test1@gmail.com"}, {"VALUE": "test2@gmail.com"}],
        "UF_CRM_1721896430796": "Իրավաբանական հասցե",
        "UF_CRM_1721896453819": "Գործունեության  հասցե",
        "UF_CRM_1707823114526": "ՀՎՀՀ",
        "UF_CRM_1707823136855": "259",
        "UF_CRM_1707823142254": "Հ/Հ",
        "UF_CRM_664DBFBD53217": ["Կայանի տեղադրման հասցե 1", "Կայանի տեղադրման հասցե 2"],
        "COMMENTS": "COMMENTS",
        "ASSIGNED_BY_ID": "16",
        "UF_CRM_1707823223708": [{"fileData": ["test1.txt", "AA=="]}, {"fileData": ["test2.txt", "AA=="]}],
        "UF_CRM_1723100322669": "CODE Company",
        "UF_CRM_1723100288587": "GUID ID Company"
    })
}
