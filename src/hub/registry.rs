//! The hub's cameras, from `HUB_CAMERAS_FILE` instead of the reference hub's Postgres table:
//! a JSON array of `{"id", "name", "description", "token"?}`. A missing or empty token is
//! derived from `CAMERA_TOKEN_SECRET` (see [`super::token`]). Sans-IO: text in, cameras out.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;

use super::token;

#[derive(Clone, PartialEq, Eq)]
pub struct CameraEntry {
    pub id: u32,
    pub name: String,
    pub description: Option<String>,
    pub token: String,
}

impl fmt::Debug for CameraEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CameraEntry")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryError {
    Json(String),
    /// Ids run from 1 to 2^31 - 1, as the hub's `SERIAL` column.
    BadId(i64),
    DuplicateId(u32),
    /// Names are unique, as in the hub's table.
    DuplicateName(String),
    EmptyName(u32),
    /// Neither a token nor `CAMERA_TOKEN_SECRET` to derive one.
    NoToken(u32),
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryError::Json(e) => write!(
                f,
                "not a JSON array of {{\"id\", \"name\", \"description\", \"token\"}}: {e}"
            ),
            RegistryError::BadId(id) => write!(f, "camera id {id} is not from 1 to 2147483647"),
            RegistryError::DuplicateId(id) => write!(f, "camera id {id} appears twice"),
            RegistryError::DuplicateName(n) => write!(f, "camera name {n:?} appears twice"),
            RegistryError::EmptyName(id) => write!(f, "camera {id} has an empty name"),
            RegistryError::NoToken(id) => write!(
                f,
                "camera {id} has no token and CAMERA_TOKEN_SECRET is not set to derive one"
            ),
        }
    }
}

impl std::error::Error for RegistryError {}

#[derive(Deserialize)]
struct Raw {
    id: i64,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

/// The cameras the file lists, in its order.
pub fn parse(text: &str, secret: &str) -> Result<Vec<CameraEntry>, RegistryError> {
    let raw: Vec<Raw> =
        serde_json::from_str(text).map_err(|e| RegistryError::Json(e.to_string()))?;
    let mut ids = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut cameras = Vec::with_capacity(raw.len());
    for r in raw {
        let id = u32::try_from(r.id)
            .ok()
            .filter(|id| (1..=i32::MAX as u32).contains(id))
            .ok_or(RegistryError::BadId(r.id))?;
        if !ids.insert(id) {
            return Err(RegistryError::DuplicateId(id));
        }
        if r.name.trim().is_empty() {
            return Err(RegistryError::EmptyName(id));
        }
        if !names.insert(r.name.clone()) {
            return Err(RegistryError::DuplicateName(r.name));
        }
        let token = match r.token.filter(|t| !t.is_empty()) {
            Some(t) => t,
            None if !secret.is_empty() => token::derive(id, secret),
            None => return Err(RegistryError::NoToken(id)),
        };
        cameras.push(CameraEntry {
            id,
            name: r.name,
            description: r.description,
            token,
        });
    }
    Ok(cameras)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_or_derived() {
        let text = r#"[
            {"id": 1, "name": "door", "description": "front door"},
            {"id": 2, "name": "yard", "description": null, "token": "given"},
            {"id": 3, "name": "shed", "lastActive": "2023-01-01T00:00:00"}
        ]"#;
        let cams = parse(text, "NOTsoSECRETsecretUsedFORtESTS1234908").unwrap();
        assert_eq!(
            cams[0].token,
            "b5b9aea262709ebde6a9452a790216100c9724a830fec86f4cd242720c6add7e"
        );
        assert_eq!(cams[0].description.as_deref(), Some("front door"));
        assert_eq!(
            (cams[1].token.as_str(), &cams[1].description),
            ("given", &None)
        );
        assert_eq!(cams[2].id, 3);
        assert!(
            !format!("{:?}", cams[1]).contains("given"),
            "Debug hides tokens"
        );
    }

    #[test]
    fn refuses_what_the_hubs_table_would() {
        let cases = [
            (
                r#"[{"id":0,"name":"a","token":"t"}]"#,
                RegistryError::BadId(0),
            ),
            (
                r#"[{"id":2147483648,"name":"a","token":"t"}]"#,
                RegistryError::BadId(2_147_483_648),
            ),
            (
                r#"[{"id":1,"name":"a","token":"t"},{"id":1,"name":"b","token":"t"}]"#,
                RegistryError::DuplicateId(1),
            ),
            (
                r#"[{"id":1,"name":"a","token":"t"},{"id":2,"name":"a","token":"t"}]"#,
                RegistryError::DuplicateName("a".into()),
            ),
            (
                r#"[{"id":1,"name":" ","token":"t"}]"#,
                RegistryError::EmptyName(1),
            ),
            (r#"[{"id":1,"name":"a"}]"#, RegistryError::NoToken(1)),
        ];
        for (text, err) in cases {
            assert_eq!(parse(text, "").unwrap_err(), err, "{text}");
        }
        assert!(matches!(parse("{}", ""), Err(RegistryError::Json(_))));
    }
}
