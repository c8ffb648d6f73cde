//! The company field list.

use super::schema::*;
use std::sync::Arc;

/// Company fields: the real standard list plus the customer's custom fields (spec).
pub fn company_schema() -> Arc<Schema> {
    use FType::*;
    let mut v = vec![
        ro(std_def("ID", Integer, "ID")),
        req(std_def("TITLE", Str, "Company name")),
        std_def("COMPANY_TYPE", Status("COMPANY_TYPE"), "Company type"),
        std_def("LOGO", File, "Logo"),
        std_def("ADDRESS_LEGAL", Str, "Legal address"),
        std_def("BANKING_DETAILS", Str, "Payment details"),
        std_def("INDUSTRY", Status("INDUSTRY"), "Industry"),
        std_def("EMPLOYEES", Status("EMPLOYEES"), "Employees"),
        std_def("CURRENCY_ID", Currency, "Currency"),
        std_def("REVENUE", Double, "Annual revenue"),
        std_def("OPENED", Char, "Available to everyone"),
        std_def("COMMENTS", Str, "Comment"),
        ro(std_def("HAS_PHONE", Char, "Has phone")),
        ro(std_def("HAS_EMAIL", Char, "Has email")),
        ro(std_def("HAS_IMOL", Char, "Has Open Channel")),
        std_def("IS_MY_COMPANY", Char, "My Company"),
        std_def("ASSIGNED_BY_ID", User, "Responsible person"),
        ro(std_def("CREATED_BY_ID", User, "Created by")),
        ro(std_def("MODIFY_BY_ID", User, "Modified by")),
        ro(std_def("DATE_CREATE", DateTime, "Created on")),
        ro(std_def("DATE_MODIFY", DateTime, "Modified on")),
        multi(std_def("CONTACT_ID", ContactIds, "Contact")),
    ];
    let at = v.iter().position(|d| d.name == "LOGO").map_or(0, |i| i + 1);
    v.splice(at..at, address_defs("ADDRESS", "Address"));
    let at = v
        .iter()
        .position(|d| d.name == "ADDRESS_LEGAL")
        .map_or(0, |i| i + 1);
    v.splice(at..at, address_defs("REG_ADDRESS", "Registered address"));
    common_tail(&mut v);
    let mut id = 200;
    let mut next = || {
        id += 1;
        id
    };
    v.extend([
        uf(
            next(),
            "UF_CRM_1721909503670",
            UfString,
            false,
            "Աշխատանքային անվանում",
        ),
        uf(
            next(),
            "UF_CRM_1721896430796",
            UfString,
            false,
            "Իրավաբանական հասցե",
        ),
        uf(
            next(),
            "UF_CRM_1721896453819",
            UfString,
            false,
            "Գործունեության հասցե",
        ),
        uf(next(), "UF_CRM_1707823114526", UfString, false, "ՀՎՀՀ"),
        uf(
            next(),
            "UF_CRM_1707823136855",
            UfEnum(items(&[
                ("255", "Ameriabank"),
                ("257", "Ardshinbank"),
                ("259", "Inecobank"),
                ("261", "ACBA Bank"),
            ])),
            false,
            "Բանկ",
        ),
        uf(next(), "UF_CRM_1707823142254", UfString, false, "Հ/Հ"),
        uf(
            next(),
            "UF_CRM_664DBFBD53217",
            UfString,
            true,
            "Կայանի տեղադրման հասցե",
        ),
        uf(next(), "UF_CRM_1707823223708", UfFile, true, "Files"),
        uf(
            next(),
            "UF_CRM_1723100322669",
            UfString,
            false,
            "CODE Company",
        ),
        uf(
            next(),
            "UF_CRM_1723100288587",
            UfString,
            false,
            "GUID ID Company",
        ),
    ]);
    finish(v)
}
