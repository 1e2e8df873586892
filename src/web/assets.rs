//! Static files compiled into the binary, with a strong ETag from their embedded hash.

use std::path::PathBuf;

use rocket::http::{ContentType, Header, Status};
use rocket::request::{self, FromRequest, Request};
use rocket::response::{self, Responder, Response};
use rocket::{get, routes, Route};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "assets/"]
struct Assets;

pub fn routes() -> Vec<Route> {
    routes![asset]
}

pub struct IfNoneMatch(Option<String>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for IfNoneMatch {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        request::Outcome::Success(IfNoneMatch(
            req.headers().get_one("If-None-Match").map(str::to_string),
        ))
    }
}

/// The file, or only its validators when the client's copy is current (304).
pub struct AssetReply {
    etag: String,
    file: Option<(ContentType, Vec<u8>)>,
}

impl<'r> Responder<'r, 'static> for AssetReply {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut res = Response::build();
        res.header(Header::new("ETag", self.etag))
            .header(Header::new(
                "Cache-Control",
                "public, max-age=3600, must-revalidate",
            ));
        match self.file {
            None => res.status(Status::NotModified).ok(),
            Some((content_type, bytes)) => res
                .header(content_type)
                .sized_body(bytes.len(), std::io::Cursor::new(bytes))
                .ok(),
        }
    }
}

#[get("/<path..>")]
fn asset(path: PathBuf, if_none_match: IfNoneMatch) -> Option<AssetReply> {
    let name = path.to_str()?;
    let file = Assets::get(name)?;
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    if if_none_match
        .0
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Some(AssetReply { etag, file: None });
    }
    let content_type = path
        .extension()
        .and_then(|e| e.to_str())
        .and_then(ContentType::from_extension)
        .unwrap_or(ContentType::Binary);
    Some(AssetReply {
        etag,
        file: Some((content_type, file.data.into_owned())),
    })
}
