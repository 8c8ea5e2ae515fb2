// Socket.io event names, exactly as in docs/PROTOCOL.md (and signaling/events.py on the server).

// Patient -> server
export const PATIENT_REQUEST_VIDEO = "patient:request_video"; // {} or {media: "audio"}
export const PATIENT_REQUEST_PHONE = "patient:request_phone"; // {phone_number} (R8: called back by phone)
export const PATIENT_CANCEL = "patient:cancel";
// Server -> patient
export const PATIENT_STATE = "patient:state";

// Physician -> server
export const GP_AVAILABLE = "gp:available";
export const GP_UNAVAILABLE = "gp:unavailable";
export const OFFER_ACCEPT = "offer:accept";
export const OFFER_DECLINE = "offer:decline";
export const PHONE_OUTCOME = "phone:outcome"; // {request_id, outcome: reached | no_answer | wrong_number}
export const PHONE_END = "phone:end"; // {request_id}: the phone consultation is over
// Server -> physician
export const GP_STATE = "gp:state";
export const QUEUE_STATS = "queue:stats";
export const SLA_ALERT = "sla:alert"; // also shown on the supervisor board

// Server -> supervisor
export const BOARD_STATE = "board:state";

// Any role -> server: ask for the current state again (its ack carries it)
export const SESSION_SYNC = "session:sync";

// Both members of a call room
export const CALL_START = "call:start"; // server -> both
export const RTC_SIGNAL = "rtc:signal"; // both ways (relayed to the other member)
export const CALL_CONNECTED = "call:connected"; // client -> server
export const CALL_HANGUP = "call:hangup"; // client -> server
export const CALL_ENDED = "call:ended"; // server -> both
export const CALL_PEER = "call:peer"; // server -> the other member: {room_id, state: left|back, grace_seconds}
export const CALL_DEGRADE = "call:degrade"; // client -> server: {room_id, to: audio|phone, reason}
export const CALL_DEGRADED = "call:degraded"; // server -> the other member: {room_id, to: "audio", by}

// call:degrade reasons
export const DEGRADE_ICE_FAILED = "ice_failed";
export const DEGRADE_QUALITY = "quality";
export const DEGRADE_USER = "user";

// call:ended reasons
export const ENDED_HANGUP_PATIENT = "hangup_patient";
export const ENDED_HANGUP_PHYSICIAN = "hangup_physician";
export const ENDED_PATIENT_LOST = "patient_lost"; // the patient did not come back within the grace period
export const ENDED_PHYSICIAN_LOST = "physician_lost"; // the GP did not come back: the patient is queued again
export const ENDED_PHONE_CALLBACK = "phone_callback"; // the call goes on by phone (call:degrade to phone)

// Request channels (patient:state request.channel, gp:state offer.channel)
export const CHANNEL_VIDEO = "video";
export const CHANNEL_PHONE = "phone";

// connect_error messages (codes) the server uses to refuse a socket.
export const CONNECT_AUTH_REQUIRED = "auth_required";
export const CONNECT_TOKEN_INVALID = "token_invalid";
export const CONNECT_TOKEN_EXPIRED = "token_expired";
