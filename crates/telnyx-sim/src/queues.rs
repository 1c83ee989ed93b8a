//! Call queues: the queues themselves, the calls waiting in them, and
//! putting calls in (`call.enqueued` with the position) or taking them out
//! (`call.dequeued` with the reason: `leave`, `hangup`, `bridged`, `timeout`).

use std::time::Duration;

use super::clock::secs_between;
use super::error::ApiError;
use super::events::{CALL_DEQUEUED, CALL_ENQUEUED, With};
use super::ids;
use super::model::{Queue, QueuedCall};
use super::paging;
use super::reply::Reply;
use super::request::Request;
use super::state::World;

/// Queue sizes Telnyx accepts.
const MAX_SIZE: std::ops::RangeInclusive<i64> = 1..=5000;
/// A queue created with `POST /queues` holds 300 calls unless told otherwise,
/// one created by enqueueing a call 100.
const CREATED_MAX_SIZE: i64 = 300;
const ENQUEUE_MAX_SIZE: i64 = 100;

/// `GET /queues`, oldest first.
pub fn list(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let now = world.now();
    let mut queues: Vec<&Queue> = world.queues.values().collect();
    queues.sort_by_key(|q| q.created_at);
    paging::numbered(request, queues.iter().map(|q| q.to_json(now)).collect())
}

/// `POST /queues`
pub fn create(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let name = request.required_str("queue_name")?;
    let max_size = request
        .int("max_size", MAX_SIZE)?
        .unwrap_or(CREATED_MAX_SIZE);
    if name.chars().count() > 255 {
        return Err(ApiError::invalid_value(
            "queue_name",
            "The queue name must be between 1 and 255 characters.",
        ));
    }
    if world.queues.contains_key(name) {
        return Err(ApiError::invalid_value(
            "queue_name",
            "A queue with this name already exists.",
        ));
    }
    let now = world.now();
    Ok(Reply::data(world.open_queue(name, max_size).to_json(now)))
}

/// `GET /queues/{queue_name}`
pub fn retrieve(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let now = world.now();
    Ok(Reply::data(
        world.queue(request.param("queue_name"))?.to_json(now),
    ))
}

/// `POST /queues/{queue_name}`: a new `max_size`.
pub fn update(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let max_size = request
        .int("max_size", MAX_SIZE)?
        .ok_or_else(|| ApiError::missing("max_size"))?;
    let now = world.now();
    let queue = world.queue(request.param("queue_name"))?;
    queue.max_size = max_size as usize;
    queue.updated_at = now;
    Ok(Reply::data(queue.to_json(now)))
}

/// `DELETE /queues/{queue_name}`: only an empty queue (400 90050 otherwise).
pub fn delete(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let name = request.param("queue_name");
    if !world.queue(name)?.calls.is_empty() {
        return Err(ApiError::queue_not_empty());
    }
    world.queues.remove(name);
    Ok(Reply::NoContent)
}

/// `GET /queues/{queue_name}/calls`, first in line first.
pub fn list_calls(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let now = world.now();
    let queue = world
        .queues
        .get(request.param("queue_name"))
        .ok_or_else(ApiError::not_found)?;
    let rows = queue
        .calls
        .iter()
        .enumerate()
        .filter_map(|(i, waiting)| {
            let call = world.calls.get(&waiting.call_control_id)?;
            Some(queue.call_json(i + 1, call, now))
        })
        .collect();
    paging::numbered(request, rows)
}

/// `GET /queues/{queue_name}/calls/{call_control_id}`
pub fn retrieve_call(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let now = world.now();
    let (queue, position) = waiting(world, request)?;
    let call = world
        .calls
        .get(request.param("call_control_id"))
        .ok_or_else(ApiError::not_found)?;
    Ok(Reply::data(
        world.queues[&queue].call_json(position, call, now),
    ))
}

/// `PATCH /queues/{queue_name}/calls/{call_control_id}`: `keep_after_hangup`.
pub fn update_call(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let keep = request.bool("keep_after_hangup")?;
    let (queue, position) = waiting(world, request)?;
    if let (Some(keep), Some(queue)) = (keep, world.queues.get_mut(&queue)) {
        queue.calls[position - 1].keep_after_hangup = keep;
    }
    Ok(Reply::NoContent)
}

/// `DELETE /queues/{queue_name}/calls/{call_control_id}`: takes a call out of
/// line, typically one that hung up but was kept.
pub fn remove_call(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    waiting(world, request)?;
    world.dequeue(request.param("call_control_id"), "leave");
    Ok(Reply::NoContent)
}

/// `POST /calls/{call_control_id}/actions/enqueue`: creates the queue on
/// first use.
pub fn enqueue(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("call_control_id");
    let name = request.required_str("queue_name")?;
    let max_size = request
        .int("max_size", MAX_SIZE)?
        .unwrap_or(ENQUEUE_MAX_SIZE);
    let max_wait = request.int("max_wait_time_secs", 1..=86_400)?;
    let keep_after_hangup = request.bool("keep_after_hangup")?.unwrap_or(false);
    let client_state = request.str("client_state")?;
    let call = world.answered_call(id, "call_control_id")?;
    if call.queue.is_some() {
        return Err(ApiError::already_queued());
    }
    if call.conference_id.is_some() || call.bridged_with.is_some() {
        return Err(ApiError::invalid_value(
            "call_control_id",
            "The call is in a conference or bridged.",
        ));
    }
    if !world.queues.contains_key(name) {
        world.open_queue(name, max_size);
    }
    let now = world.now();
    let queue = world.queue(name)?;
    if queue.calls.len() >= queue.max_size {
        return Err(ApiError::queue_full(name));
    }
    queue.calls.push(QueuedCall {
        call_control_id: id.to_owned(),
        enqueued_at: now,
        keep_after_hangup,
    });
    queue.updated_at = now;
    let (position, average) = (queue.calls.len(), queue.average_wait_secs(now));
    world.set_client_state(id, client_state);
    if let Some(call) = world.calls.get_mut(id) {
        call.queue = Some(name.to_owned());
    }
    let context = world
        .call_context(id)
        .with("queue", name)
        .with("current_position", position)
        .with("queue_avg_wait_time_secs", average);
    world.emit(&CALL_ENQUEUED, &context);
    if let Some(secs) = max_wait {
        let (id, queued_at) = (id.to_owned(), now);
        world.later(Duration::from_secs(secs as u64), move |world| {
            if world.queued_since(&id) == Some(queued_at) {
                world.dequeue(&id, "timeout");
            }
        });
    }
    Ok(Reply::ok())
}

/// `POST /calls/{call_control_id}/actions/leave_queue`
pub fn leave_queue(world: &mut World, request: &Request) -> Result<Reply, ApiError> {
    let id = request.param("call_control_id");
    let client_state = request.str("client_state")?;
    if world.live_call(id, "call_control_id")?.queue.is_none() {
        return Err(ApiError::invalid_value(
            "call_control_id",
            "The call is not in a queue.",
        ));
    }
    world.set_client_state(id, client_state);
    world.dequeue(id, "leave");
    Ok(Reply::ok())
}

/// The queue name and 1-based position of the call a request names (404
/// when the queue or the call in it is unknown).
fn waiting(world: &mut World, request: &Request) -> Result<(String, usize), ApiError> {
    let name = request.param("queue_name");
    let position = world
        .queue(name)?
        .position(request.param("call_control_id"))
        .ok_or_else(ApiError::not_found)?;
    Ok((name.to_owned(), position))
}

impl World {
    fn open_queue(&mut self, name: &str, max_size: i64) -> &Queue {
        let now = self.now();
        self.queues.entry(name.to_owned()).or_insert_with(|| Queue {
            id: ids::uuid(),
            name: name.to_owned(),
            max_size: max_size as usize,
            created_at: now,
            updated_at: now,
            calls: Vec::new(),
        })
    }

    /// When the call joined the line it waits in now.
    fn queued_since(&self, id: &str) -> Option<std::time::SystemTime> {
        let name = self.calls.get(id)?.queue.as_ref()?;
        let queue = self.queues.get(name)?;
        let position = queue.position(id)?;
        Some(queue.calls[position - 1].enqueued_at)
    }

    /// Takes a call out of its queue with `call.dequeued`; nothing when it
    /// waits in none.
    pub fn dequeue(&mut self, id: &str, reason: &str) {
        let now = self.now();
        let Some(name) = self.calls.get_mut(id).and_then(|c| c.queue.take()) else {
            return;
        };
        let Some(queue) = self.queues.get_mut(&name) else {
            return;
        };
        let Some(position) = queue.position(id) else {
            return;
        };
        let waited = queue.calls.remove(position - 1);
        queue.updated_at = now;
        let context = self
            .call_context(id)
            .with("queue", name)
            .with("queue_position", position)
            .with("reason", reason)
            .with("wait_time_secs", secs_between(waited.enqueued_at, now));
        self.emit(&CALL_DEQUEUED, &context);
    }

    /// A queued call hung up: it leaves the line unless it asked to be kept.
    pub fn queued_call_hung_up(&mut self, id: &str) {
        let kept = self
            .calls
            .get(id)
            .and_then(|c| c.queue.as_ref())
            .is_some_and(|name| {
                self.queues
                    .get(name)
                    .and_then(|q| q.calls.iter().find(|c| c.call_control_id == id))
                    .is_some_and(|c| c.keep_after_hangup)
            });
        if !kept {
            self.dequeue(id, "hangup");
        }
    }
}
