//! The status API's documents against docs/status-api.openapi.json without brokers: the reports ferry
//! builds conform, and the check bites (a renamed or missing field fails). The same check runs on real
//! responses in `observability.rs`.

mod common;

use common::{openapi, openapi_errors};
use ferry_actors::status::problems::{ProblemKey, ProblemStage};
use ferry_actors::status::{FlowStatus, Phase, Stage, StatusBoard};

#[test]
fn reports_conform_and_a_renamed_field_fails() {
    let api = openapi();
    let starting = FlowStatus::new("primary", "backup");
    starting.failed(Stage::Start, &"cluster `primary`: all brokers down");
    let running = FlowStatus::new("backup", "primary");
    running.set_phase(Phase::Running);
    running.succeeded(Stage::Discovery);
    running.succeeded(Stage::SourceOffsets);
    running.progress_committed();
    running.problems().report(
        ProblemKey::topic(ProblemStage::SourceRead, "backup", "orders"),
        &"not authorized to read (TopicAuthorizationFailed)",
        "grant Read",
    );
    starting.problems().report(ProblemKey::cluster(ProblemStage::Connection, "primary"), &"cannot connect", "check");
    let board = StatusBoard::new(vec![starting, running]);

    let status = serde_json::to_string(&board.report()).expect("json");
    assert_eq!(openapi_errors(&api, "/status", 200, &status), Vec::<String>::new(), "{status}");
    let readiness = serde_json::to_string(&board.readiness()).expect("json");
    assert!(readiness.contains("primary->backup: starting"), "{readiness}");
    assert_eq!(openapi_errors(&api, "/readyz", 503, &readiness), Vec::<String>::new());
    assert_eq!(openapi_errors(&api, "/healthz", 200, r#"{"status":"ok"}"#), Vec::<String>::new());

    let renamed = status.replace("\"lag_records\"", "\"lag\"");
    assert!(!openapi_errors(&api, "/status", 200, &renamed).is_empty(), "a renamed field must fail");
    assert!(status.contains("\"source_read\"") && status.contains("\"connection\""), "{status}");
    let bad_stage = status.replace("\"source_read\"", "\"reading\"");
    assert!(!openapi_errors(&api, "/status", 200, &bad_stage).is_empty(), "an unknown problem stage must fail");
    let bad_state = status.replace("\"running\"", "\"copying-ish\"");
    assert!(!openapi_errors(&api, "/status", 200, &bad_state).is_empty(), "an unknown state must fail");
}
