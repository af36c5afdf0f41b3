// The client side of WHIP (publish, RFC 9725) and WHEP (watch): one HTTP exchange of SDP
// with a Bearer token, used by the camera page and the remote page's player.
// Companion does not take trickled candidates from browsers, so the offer goes out once
// its candidates are gathered (or after a short wait, with those found by then).

/** Resolves when the connection has gathered its ICE candidates, or after `ms`. */
export function gathered(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === "complete") done();
    }
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/**
 * The STUN/TURN servers the server announces for this session and Bearer token, as
 * `RTCPeerConnection({ iceServers })` takes them: TURN credentials of this caller that
 * expire. Fetched before each connection, since the offer carries every candidate (no
 * trickle) and the answer's `Link` headers would come too late. [] when none or refused.
 */
export async function iceServers(session, token) {
  try {
    const response = await fetch(`/api/ice/${encodeURIComponent(session)}`, {
      cache: "no-store",
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    if (!response.ok) return [];
    const body = await response.json();
    return Array.isArray(body.ice_servers) ? body.ice_servers : [];
  } catch {
    return [];
  }
}

/**
 * Offer from `pc` to a WHIP or WHEP endpoint and apply the answer; resolves with the URL of
 * the session's resource (for `end`). A refusal throws an Error whose `status` is the HTTP
 * status (401/403: the token, 409: busy).
 */
export async function negotiate(pc, endpoint, token, { gatherMs = 1500 } = {}) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc, gatherMs);
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/sdp", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: pc.localDescription.sdp,
  });
  if (response.status !== 201) {
    throw Object.assign(new Error(`status ${response.status}`), { status: response.status });
  }
  const resource = new URL(response.headers.get("Location"), location.href).href;
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  return resource;
}

/**
 * End a session: DELETE its resource. Send it before closing the peer connection: a
 * closed connection ends the session on the server, and the DELETE would find nothing.
 * keepalive: also when the page is being left; timeoutMs: give up waiting after that.
 */
export function end(resource, token, { keepalive = false, timeoutMs = null } = {}) {
  return fetch(resource, {
    method: "DELETE",
    keepalive,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    ...(timeoutMs ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
  }).catch(() => {});
}
