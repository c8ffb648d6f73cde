//! The contact field list.

use super::schema::*;
use std::sync::Arc;

/// Contact fields: the real standard list plus the customer's custom fields (spec).
pub fn contact_schema() -> Arc<Schema> {
    use FType::*;
    let mut v = vec![
        ro(std_def("ID", Integer, "ID")),
        std_def("HONORIFIC", Status("HONORIFIC"), "Salutation"),
        req(std_def("NAME", Str, "First name")),
        req(std_def("SECOND_NAME", Str, "Second name")),
        req(std_def("LAST_NAME", Str, "Last name")),
        std_def("PHOTO", File, "Photo"),
        std_def("BIRTHDATE", Date, "Date of birth"),
        std_def("TYPE_ID", Status("CONTACT_TYPE"), "Contact type"),
        std_def("SOURCE_ID", Status("SOURCE"), "Source"),
        std_def("SOURCE_DESCRIPTION", Str, "Source information"),
        std_def("POST", Str, "Position"),
        std_def("COMMENTS", Str, "Comment"),
        std_def("OPENED", Char, "Available to everyone"),
        std_def("EXPORT", Char, "Included in export"),
        ro(std_def("HAS_PHONE", Char, "Has phone")),
        ro(std_def("HAS_EMAIL", Char, "Has email")),
        ro(std_def("HAS_IMOL", Char, "Has Open Channel")),
        std_def("ASSIGNED_BY_ID", User, "Responsible person"),
        ro(std_def("CREATED_BY_ID", User, "Created by")),
        ro(std_def("MODIFY_BY_ID", User, "Modified by")),
        ro(std_def("DATE_CREATE", DateTime, "Created on")),
        ro(std_def("DATE_MODIFY", DateTime, "Modified on")),
        std_def("COMPANY_ID", CompanyId, "Company"),
        multi(std_def("COMPANY_IDS", CompanyIds, "Company")),
    ];
    let at = v.iter().position(|d| d.name == "POST").map_or(0, |i| i + 1);
    v.splice(at..at, address_defs("ADDRESS", "Address"));
    common_tail(&mut v);
    let mut id = 100;
    let mut next = || {
        id += 1;
        id
    };
    v.extend([
        uf(
            next(),
            "UF_CRM_1721896329420",
            UfString,
            false,
            "Իրավաբանական հասցե",
        ),
        uf(
            next(),
            "UF_CRM_1723108337023",
            UfString,
            false,
            "Գործունեության հասցե",
        ),
        uf(
            next(),
            "UF_CRM_664DBFBD43D75",
            UfString,
            true,
            "Կայանի տեղադրման հասցե",
        ),
        uf(next(), "UF_CRM_1707822379207", UfString, false, "Անձնագիր"),
        uf(
            next(),
            "UF_CRM_1707822426950",
            UfDateTime,
            false,
            "Երբ է տրվել",
        ),
        uf(
            next(),
            "UF_CRM_1707822448806",
            UfString,
            false,
            "Ում կողմից",
        ),
        uf(next(), "UF_CRM_1707822458574", UfString, false, "ՀԾՀ"),
        uf(
            next(),
            "UF_CRM_1707822731302",
            UfEnum(items(&[
                ("460", "Ameriabank"),
                ("462", "Ardshinbank"),
                ("464", "Inecobank"),
                ("466", "ACBA Bank"),
            ])),
            false,
            "Բանկ",
        ),
        uf(next(), "UF_CRM_1707822585830", UfString, false, "Հ/Հ"),
        uf(next(), "UF_CRM_1707822691457", UfFile, true, "Files"),
        uf(
            next(),
            "UF_CRM_1723100443089",
            UfString,
            false,
            "GUID ID Contact",
        ),
        uf(
            next(),
            "UF_CRM_1723100456115",
            UfString,
            false,
            "CODE Contact",
        ),
    ]);
    finish(v)
}
