"""A lean MQTT client for bulk QoS 1 traffic: thousands of messages per call without paho's per-message cost.

Implements the parts of MQTT 3.1.1 (OASIS Standard, 2014) and MQTT 5.0 (OASIS Standard, 2019) that the
platform's bulk paths need: CONNECT/CONNACK, PUBLISH at QoS 0/1 with PUBACK both ways, SUBSCRIBE/SUBACK,
PINGREQ/PINGRESP, DISCONNECT. Packets are encoded into one buffer and written with one ``send`` when the
kernel takes it all; incoming bytes are read 64 KiB at a time and parsed in one pass (ADR 0051). Used by the
outbox publisher (``MqttPublisher``), the platform's ack listener when it must keep up with a whole fleet, and
the device simulator; paho-mqtt stays the client for everything else.

Why MQTT 5 for subscribers: Mosquitto sends an MQTT 3.1.1 subscriber at most ``max_inflight_messages`` (20)
unacknowledged QoS 1 messages and queues ``max_queued_messages`` (1000) more, then drops; an MQTT 5 subscriber
declares its Receive Maximum (here 65,535) in CONNECT and is sent that many. Publishers use MQTT 3.1.1, where
the broker sets no limit on the client's unacknowledged publishes (an MQTT 5 client would have to respect the
broker's Receive Maximum of 20).
"""

from __future__ import annotations

import select
import socket
import ssl
import struct
import time

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 1, 2, 3, 4, 8, 9, 12, 13, 14
MQTT_311, MQTT_5 = 4, 5
MAX_PACKET_ID = 65535


class WireError(Exception):
    """The broker refused, closed the connection or did not answer in time."""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _wait_io(sock, *, write: bool = False, timeout: float = 0.0) -> bool:
    """True when ``sock`` is readable (or writable): ``poll(2)``, so descriptors past select's 1,024 work too
    (a simulator holding thousands of device connections)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN | (select.POLLOUT if write else 0))
    return bool(poller.poll(int(timeout * 1000)))


# One ``recv`` asks for this much: under glibc's mmap threshold (128 KiB), so the buffer Python allocates for it
# comes from the heap. Asking for 1 MiB cost an mmap, an mremap and a munmap (and a page fault) per read.
READ_SIZE = 1 << 16


def _utf8(s: str) -> bytes:
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([(kind << 4) | flags]) + _varint(len(body)) + body


class WireClient:
    """One blocking MQTT connection. ``publish`` queues a packet (``flush`` writes the queue); ``poll`` reads
    what has arrived: PUBACKs for our publishes (``acked`` packet ids) and incoming PUBLISH messages, which are
    acknowledged (QoS 1) in the next write. Not thread-safe: one thread drives it."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id: str,
        version: int = MQTT_311,
        keepalive: int = 60,
        clean: bool = True,
        receive_maximum: int = MAX_PACKET_ID,
        timeout: float = 5.0,
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
    ):
        self.host, self.port, self.client_id = host, port, client_id
        self.username, self.password, self.tls = username, password, tls
        self.version, self.keepalive, self.clean = version, keepalive, clean
        self.receive_maximum, self.timeout = receive_maximum, timeout
        self.sock: socket.socket | None = None
        self._out = bytearray()
        self._in = b""  # bytes received, not parsed yet (a partial packet)
        self._next_id = 0
        self.inflight: set[int] = set()  # our QoS 1 publishes awaiting PUBACK
        self.refused: set[int] = set()  # MQTT 5: publishes the broker acknowledged with a failure reason
        self._poller, self._poller_sock = None, None
        self._last_io = time.monotonic()

    # --- connection ---------------------------------------------------------------------------------------

    def connect(self) -> WireClient:
        self._in = b""  # nothing of an earlier connection is parsed with this one's bytes
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise WireError(f"MQTT broker {self.host}:{self.port}: {exc}") from exc
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 21)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
        if self.tls is not None:
            try:
                self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.host)
            except (OSError, ssl.SSLError) as exc:
                raise WireError(f"MQTT broker {self.host}:{self.port}: TLS: {exc}") from exc
        flags = 0x02 if self.clean else 0x00
        if self.username is not None:
            flags |= 0x80
            if self.password is not None:
                flags |= 0x40
        body = _utf8("MQTT") + bytes([self.version, flags]) + struct.pack("!H", self.keepalive)
        if self.version == MQTT_5:
            props = b"\x21" + struct.pack("!H", self.receive_maximum)  # Receive Maximum
            body += _varint(len(props)) + props
        body += _utf8(self.client_id)
        if self.username is not None:
            body += _utf8(self.username)
            if self.password is not None:
                body += _utf8(self.password)
        self._out += _packet(CONNECT, 0, body)
        self.flush()
        kind, _, payload = self._wait_for(CONNACK)
        reason = payload[1] if len(payload) > 1 else 0xFF
        if reason != 0:
            self.close()
            raise WireError(f"MQTT broker refused the connection (reason {reason}).")
        self.sock.setblocking(False)
        return self

    def close(self) -> None:
        if self.sock is None:
            return
        try:
            self.sock.setblocking(True)
            self.sock.settimeout(1.0)
            self.sock.sendall(bytes(self._out) + _packet(DISCONNECT, 0, b""))
        except OSError:
            pass
        finally:
            self.sock.close()
            self.sock = None
            self._out.clear()

    def ping_if_idle(self, now: float | None = None) -> None:
        """Send a PINGREQ when nothing was written for half the keepalive (MQTT 3.1.2.10: the broker drops a
        client silent for 1.5 keepalives): for a connection that only listens, so ``poll`` is not called."""
        if self.sock is not None and self.keepalive and (now or time.monotonic()) - self._last_io > self.keepalive / 2:
            self._out += _packet(PINGREQ, 0, b"")
            self.flush()

    # --- writing --------------------------------------------------------------------------------------------

    def _packet_id(self) -> int:
        nid = self._next_id % MAX_PACKET_ID + 1
        if nid not in self.inflight:
            self._next_id = nid
            return nid
        for _ in range(MAX_PACKET_ID):
            self._next_id = self._next_id % MAX_PACKET_ID + 1
            if self._next_id not in self.inflight:
                return self._next_id
        raise WireError("65,535 publishes await PUBACK: wait for acknowledgements first.")

    def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> int:
        """Queue a PUBLISH; returns its packet id (0 for QoS 0)."""
        t = topic.encode()
        n = 2 + len(t) + len(payload) + (2 if qos else 0) + (1 if self.version == MQTT_5 else 0)
        out = self._out
        out.append(0x30 | (qos << 1))
        if n < 128:
            out.append(n)
        elif n < 16384:
            out += bytes((n & 0x7F | 0x80, n >> 7))
        else:
            out += _varint(n)
        out += len(t).to_bytes(2, "big")
        out += t
        pid = 0
        if qos:
            pid = self._packet_id()
            out += pid.to_bytes(2, "big")
            self.inflight.add(pid)
        if self.version == MQTT_5:
            out.append(0)  # no properties
        out += payload
        return pid

    def subscribe(self, filters: list[str], *, qos: int = 1) -> None:
        """Subscribe and wait for the SUBACK; every filter must be granted."""
        pid = self._packet_id()
        body = struct.pack("!H", pid) + (b"\x00" if self.version == MQTT_5 else b"")
        for f in filters:
            body += _utf8(f) + bytes([qos])
        self._out += _packet(SUBSCRIBE, 0x02, body)
        self.flush()
        self.sock.setblocking(True)
        try:
            _, _, payload = self._wait_for(SUBACK)
        finally:
            self.sock.setblocking(False)
        codes = payload[2:]
        if self.version == MQTT_5:
            n, i = self._read_varint(payload, 2)
            codes = payload[i + n :]
        if any(c >= 0x80 for c in codes):
            raise WireError(f"MQTT subscription refused: {list(codes)}")

    def flush(self) -> None:
        """Write everything queued (blocking until the kernel took it): one ``send`` when the socket takes it all,
        as it does for a device's answer or a batch of acknowledgements."""
        out = self._out
        if not out:
            return
        if self.sock is None:
            raise WireError("not connected")
        try:
            sent = self.sock.send(out)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            sent = 0
        except OSError as exc:
            raise WireError(str(exc)) from exc
        if sent == len(out):
            out.clear()
            self._last_io = time.monotonic()
            return
        data, self._out = bytes(out[sent:]), bytearray()
        view = memoryview(data)
        deadline = time.monotonic() + self.timeout
        while view:
            try:
                sent = self.sock.send(view)
                view = view[sent:]
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                if time.monotonic() > deadline:
                    raise WireError("MQTT broker is not reading.") from None
                # Keep reading while we wait to write, so neither side blocks on a full buffer.
                _wait_io(self.sock, write=True, timeout=0.05)
                self._read_available()
            except OSError as exc:
                raise WireError(str(exc)) from exc
        self._last_io = time.monotonic()

    # --- reading --------------------------------------------------------------------------------------------

    @staticmethod
    def _read_varint(buf, i: int) -> tuple[int, int]:
        n, mult = 0, 1
        while True:
            b = buf[i]
            i += 1
            n += (b & 0x7F) * mult
            if not b & 0x80:
                return n, i
            mult *= 128

    def _read_available(self) -> bool:
        """Append what the socket has to the input buffer; False when the broker closed the connection. Reads
        until a read comes back short (the socket is drained: no further ``recv`` to learn it from EAGAIN), or
        while the TLS layer holds decrypted bytes that ``poll`` would not report."""
        parts = [self._in] if self._in else []
        sock = self.sock
        while True:
            try:
                chunk = sock.recv(READ_SIZE)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except OSError as exc:
                raise WireError(str(exc)) from exc
            if not chunk:
                raise WireError("MQTT broker closed the connection.")
            parts.append(chunk)
            if len(chunk) < READ_SIZE and not (self.tls is not None and sock.pending()):
                break
        if parts:
            self._in = parts[0] if len(parts) == 1 else b"".join(parts)
        return True

    def _frames(self):
        """Complete packets in the input buffer as (type, flags, body)."""
        buf, i, n = self._in, 0, len(self._in)
        out = []
        while i + 2 <= n:
            first = buf[i]
            try:
                length, j = self._read_varint(buf, i + 1)
            except IndexError:
                break
            if j + length > n:
                break
            out.append((first >> 4, first & 0x0F, bytes(buf[j : j + length])))
            i = j + length
        self._in = buf[i:]
        return out

    def _wait_for(self, kind: int):
        deadline = time.monotonic() + self.timeout
        self.sock.settimeout(self.timeout)
        while time.monotonic() < deadline:
            for frame in self._frames():
                if frame[0] == kind:
                    return frame
            try:
                chunk = self.sock.recv(65536)
            except OSError as exc:
                raise WireError(f"MQTT broker did not answer: {exc}") from exc
            if not chunk:
                raise WireError("MQTT broker closed the connection.")
            self._in += chunk
        raise WireError("MQTT broker did not answer in time.")

    def poll(
        self, timeout: float = 0.0, *, readable: bool = False, ack_later: bool = False
    ) -> tuple[list[int], list[tuple[str, bytes]]]:
        """Wait up to ``timeout`` for input; return (packet ids acknowledged by the broker, messages received as
        (topic, payload)). Received QoS 1 messages are acknowledged right away (in one write), or, with
        ``ack_later``, queued for the caller's next ``flush`` (a device answering a command sends the PUBACK and
        its answer in one write). ``readable``: the caller's selector already saw input (no wait)."""
        if self.sock is None:
            raise WireError("not connected")
        if self.keepalive and time.monotonic() - self._last_io > self.keepalive / 2:
            self._out += _packet(PINGREQ, 0, b"")
        if self._out and not ack_later:
            self.flush()
        if not readable:
            if self._poller_sock is not self.sock:  # one poll object per connection, not one per wait
                self._poller, self._poller_sock = select.poll(), self.sock
                self._poller.register(self.sock, select.POLLIN)
            if not self._poller.poll(int(timeout * 1000)):
                return [], []
        self._read_available()
        return self._take(ack_later)

    def _take(self, ack_later: bool) -> tuple[list[int], list[tuple[str, bytes]]]:
        """Parse the complete packets in the input buffer (the rest waits for more bytes): PUBACKs of our
        publishes and incoming PUBLISH messages, whose PUBACKs are queued (and written unless ``ack_later``).
        One pass over the buffer, no intermediate packet objects: a publisher reads thousands of PUBACKs at once."""
        data = self._in
        n = len(data)
        i = 0
        acked: list[int] = []
        messages: list[tuple[str, bytes]] = []
        out = self._out
        queued = len(out)
        inflight = self.inflight
        v5 = self.version == MQTT_5
        while i + 2 <= n:
            first = data[i]
            length = data[i + 1]
            j = i + 2
            if length & 0x80:
                try:
                    length, j = self._read_varint(data, i + 1)
                except IndexError:
                    break
            end = j + length
            if end > n:
                break
            kind = first >> 4
            if kind == PUBACK:
                pid = (data[j] << 8) | data[j + 1]
                if pid in inflight:
                    inflight.discard(pid)
                    acked.append(pid)
                    if length > 2 and data[j + 2] >= 0x80:  # MQTT 5: the broker refused it (e.g. 0x87)
                        self.refused.add(pid)
            elif kind == PUBLISH:
                tlen = (data[j] << 8) | data[j + 1]
                k = j + 2 + tlen
                topic = data[j + 2 : k].decode()
                if first & 0x06:  # QoS 1 (or 2, which we never subscribe at): acknowledge its packet id
                    out += b"\x40\x02"
                    out += data[k : k + 2]
                    k += 2
                if v5:
                    plen = data[k]
                    k += 1
                    if plen & 0x80:
                        plen, k = self._read_varint(data, k - 1)
                    k += plen
                messages.append((topic, data[k:end]))
            i = end
        self._in = data[i:] if i < n else b""
        if len(out) > queued and not ack_later:
            self.flush()
        return acked, messages
