//! Schema migrations, run at startup, one per file. A migration's NAME is
//! what databases record as applied: a name never changes, or existing
//! databases would run it again.

use sea_orm_migration::prelude::*;

mod m0001_initial_schema;
mod m0002_search_index;
mod m0003_outbox_schedule_and_merge_groups;
mod m0004_server_keys;
mod m0005_folded_search_keys;
mod m0006_merge_events;
mod m0007_outbox_releases;
mod m0008_erasure_and_picture_carriers;
mod m0009_contact_events;
mod m0010_contact_listing;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_initial_schema::Migration),
            Box::new(m0002_search_index::Migration),
            Box::new(m0003_outbox_schedule_and_merge_groups::Migration),
            Box::new(m0004_server_keys::Migration),
            Box::new(m0005_folded_search_keys::Migration),
            Box::new(m0006_merge_events::Migration),
            Box::new(m0007_outbox_releases::Migration),
            Box::new(m0008_erasure_and_picture_carriers::Migration),
            Box::new(m0009_contact_events::Migration),
            Box::new(m0010_contact_listing::Migration),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_names_are_the_ones_existing_databases_recorded() {
        let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
        assert_eq!(
            names,
            [
                "migration",
                "m0002_search_index",
                "m0003_outbox_schedule_and_merge_groups",
                "m0004_server_keys",
                "m0005_folded_search_keys",
                "m0006_merge_events",
                "m0007_outbox_releases",
                "m0008_erasure_and_picture_carriers",
                "m0009_contact_events",
                "m0010_contact_listing"
            ]
        );
    }
}
