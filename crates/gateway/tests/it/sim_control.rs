//! The gateway's control path through the simulator: real RPCs, real REST,
//! and the state the list RPCs report afterwards.

use api::v1::{
    CreateConferenceRequest, DialRequest, HangupRequest, JoinConferenceRequest,
    ListParticipantsRequest, list_participants_request,
};
use telnyx_sim::Chaos;
use tonic::Code;

use crate::support::{TestGateway, enqueue_all, queue_positions};
use testkit::sim::{CALLEE, CALLER, Sandbox};

#[tokio::test]
async fn control_rpcs_act_on_the_simulated_account() {
    // Every fifth REST call is refused: the gateway's retries absorb it.
    let chaos = Chaos {
        seed: 5,
        failed_requests: 0.2,
        ..Chaos::default()
    };
    let Sandbox { sim, hooks, .. } = Sandbox::start_with(chaos).await;
    let base_url = sim.base_url();
    let gateway =
        TestGateway::spawn_with(&["--telnyx-base-url", &base_url, "--telnyx-max-retries", "4"])
            .await;
    let (mut calls, mut conferences, mut queues) =
        (gateway.calls(), gateway.conferences(), gateway.queues());

    let mut dial = async || {
        let request = DialRequest {
            connection_id: sim.connection_id(),
            to: vec![CALLEE.into()],
            from: CALLER.into(),
            ..Default::default()
        };
        let call = calls
            .dial(request)
            .await
            .unwrap()
            .into_inner()
            .call
            .unwrap();
        hooks
            .wait_for_event("call.answered", &call.call_control_id)
            .await;
        call.call_control_id
    };
    let (host, guest, first, second) = (dial().await, dial().await, dial().await, dial().await);

    let conference = conferences
        .create_conference(CreateConferenceRequest {
            call_control_id: host.clone(),
            name: "gateway-room".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .conference
        .unwrap();
    assert_eq!(conference.name, "gateway-room");
    conferences
        .join_conference(JoinConferenceRequest {
            conference_id: conference.id.clone(),
            call_control_id: guest.clone(),
            mute: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let participants = conferences
        .list_participants(ListParticipantsRequest {
            conference_id: conference.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(participants.total_size, 2);
    let seated: Vec<(&str, Option<bool>)> = participants
        .participants
        .iter()
        .map(|p| (p.call_control_id.as_str(), p.muted))
        .collect();
    assert_eq!(
        seated,
        [(host.as_str(), Some(false)), (guest.as_str(), Some(true))]
    );
    let muted = conferences
        .list_participants(ListParticipantsRequest {
            conference_id: conference.id.clone(),
            filter: Some(list_participants_request::Filter {
                muted: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(muted.participants.len(), 1);

    enqueue_all(&mut queues, "support", &[&first, &second]).await;
    assert_eq!(
        queue_positions(&mut queues, "support").await,
        [(first.clone(), Some(1)), (second.clone(), Some(2))]
    );

    let hangup = || HangupRequest {
        call_control_id: first.clone(),
        ..Default::default()
    };
    calls.hangup(hangup()).await.unwrap();
    let status = calls.hangup(hangup()).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("90018"), "{}", status.message());
    assert_eq!(
        queue_positions(&mut queues, "support").await,
        [(second.clone(), Some(1))]
    );

    gateway.stop().await;
    hooks.assert_all_valid();
    sim.shutdown().await;
}
