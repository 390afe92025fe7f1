//! What a dump of the app's stores would show of its jobs: [`TestApp::stored_job_payloads`]
//! reads every payload still stored, done jobs included, the way a backup would hold them.

use sea_orm::{ConnectionTrait as _, Statement};
use twofa::settings::JobsBackend;

use crate::TestApp;

impl TestApp {
    /// Every job payload the app's stores hold, as the stored text: each row of the SQL
    /// `jobs` table (waiting, running, done and dead alike, until the purge) and of the
    /// `job_outbox` table, and, with `jobs.backend = "redis"`, each job hash under the
    /// queue's prefix in Redis (done ones included, until the purge). A queue in process
    /// memory (`jobs.backend = "memory"`) leaves nothing in any store: none of its jobs are
    /// answered here.
    ///
    /// # Panics
    /// When a store cannot be read.
    pub async fn stored_job_payloads(&self) -> Vec<String> {
        let backends = self.connect_backends().await;
        let mut payloads = Vec::new();
        if let Some(database) = &backends.database {
            let connection = database.connection();
            let rows = connection
                .query_all_raw(Statement::from_string(
                    connection.get_database_backend(),
                    "SELECT payload FROM jobs UNION ALL SELECT payload FROM job_outbox",
                ))
                .await
                .expect("the job tables are readable");
            for row in rows {
                payloads.push(
                    row.try_get::<String>("", "payload")
                        .expect("a stored payload is text"),
                );
            }
        }
        if self.settings.jobs.backend == JobsBackend::Redis {
            let redis = backends
                .redis
                .as_ref()
                .expect("jobs.backend = \"redis\" has a Redis connection");
            let pattern = format!("{}jobs:job:*", self.settings.redis.key_prefix);
            let mut cursor = 0_u64;
            loop {
                let (next, keys): (u64, Vec<String>) = redis
                    .query(
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&pattern)
                            .arg("COUNT")
                            .arg(1000),
                    )
                    .await
                    .expect("Redis lists the job keys");
                for key in keys {
                    let payload: Option<String> = redis
                        .query(redis::cmd("HGET").arg(&key).arg("payload"))
                        .await
                        .expect("Redis reads a job hash");
                    payloads.extend(payload);
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        backends.close().await;
        payloads
    }
}
