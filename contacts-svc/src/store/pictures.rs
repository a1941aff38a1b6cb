//! The pictures live contacts wear, for the reconciliation with media-svc.

use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use super::{
    Store,
    entities::contact_revision,
    visibility::{is_latest, is_not_merged},
};
use crate::error::Error;

/// A picture a live contact wears: media-svc must hold it claimed for that contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePicture {
    pub tenant: String,
    pub contact_id: String,
    pub image_id: String,
}

impl Store {
    /// Up to `limit` pictures of live contacts (latest revisions, not merged
    /// away), across tenants, in (tenant, contact id) order after `after`.
    /// Pictures whose claim still waits in the outbox are left out: the
    /// outbox delivers those.
    pub async fn live_pictures(&self, after: Option<&LivePicture>, limit: u64) -> Result<Vec<LivePicture>, Error> {
        use contact_revision::Column as C;
        let mut select = contact_revision::Entity::find()
            .select_only()
            .columns([C::Tenant, C::ContactId, C::ImageId])
            .filter(C::ImageId.is_not_null())
            .filter(is_latest())
            .filter(is_not_merged())
            .filter(Expr::cust(
                r#"NOT EXISTS (SELECT 1 FROM "claim_outbox" o WHERE o."tenant" = "contact_revision"."tenant" AND o."owner" = "contact_revision"."contact_id" AND o."image_id" = "contact_revision"."image_id")"#,
            ));
        if let Some(after) = after {
            select = select.filter(
                Expr::tuple([Expr::col(C::Tenant), Expr::col(C::ContactId)])
                    .gt(Expr::tuple([after.tenant.clone().into(), after.contact_id.clone().into()])),
            );
        }
        let rows: Vec<(String, String, Option<String>)> =
            select.order_by_asc(C::Tenant).order_by_asc(C::ContactId).limit(limit).into_tuple().all(&self.db).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(tenant, contact_id, image_id)| Some(LivePicture { tenant, contact_id, image_id: image_id? }))
            .collect())
    }
}
