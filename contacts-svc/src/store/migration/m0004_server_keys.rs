//! The table of secrets shared by all replicas (the page-token key).

use sea_orm::Schema;
use sea_orm_migration::prelude::*;

use crate::store::entities::server_key;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_server_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Schema::new(manager.get_database_backend());
        manager.create_table(schema.create_table_from_entity(server_key::Entity).if_not_exists().to_owned()).await
    }
}
