// Socket.io event names, exactly as in docs/PROTOCOL.md (and signaling/events.py on the server).

// Patient -> server
export const PATIENT_REQUEST_VIDEO = "patient:request_video";
export const PATIENT_CANCEL = "patient:cancel";
// Server -> patient
export const PATIENT_STATE = "patient:state";

// Physician -> server
export const GP_AVAILABLE = "gp:available";
export const GP_UNAVAILABLE = "gp:unavailable";
export const OFFER_ACCEPT = "offer:accept";
export const OFFER_DECLINE = "offer:decline";
// Server -> physician
export const GP_STATE = "gp:state";
export const QUEUE_STATS = "queue:stats";

// Both members of a call room
export const CALL_START = "call:start"; // server -> both
export const RTC_SIGNAL = "rtc:signal"; // both ways (relayed to the other member)
export const CALL_CONNECTED = "call:connected"; // client -> server
export const CALL_HANGUP = "call:hangup"; // client -> server
export const CALL_ENDED = "call:ended"; // server -> both

// connect_error messages (codes) the server uses to refuse a socket.
export const CONNECT_AUTH_REQUIRED = "auth_required";
export const CONNECT_TOKEN_INVALID = "token_invalid";
export const CONNECT_TOKEN_EXPIRED = "token_expired";
