"""A lean MQTT client for bulk QoS 1 traffic: thousands of messages per call without paho's per-message cost.

Implements the parts of MQTT 3.1.1 (OASIS Standard, 2014) and MQTT 5.0 (OASIS Standard, 2019) that the
platform's bulk paths need: CONNECT/CONNACK, PUBLISH at QoS 0/1 with PUBACK both ways, SUBSCRIBE/SUBACK,
PINGREQ/PINGRESP, DISCONNECT. Packets are encoded into one buffer and written with a few ``sendall`` calls;
incoming bytes are parsed in bulk. Used by the outbox publisher (``MqttPublisher``), the platform's ack
listener when it must keep up with a whole fleet, and the device simulator; paho-mqtt stays the client for
everything else.

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
        self._in = bytearray()
        self._next_id = 0
        self.inflight: set[int] = set()  # our QoS 1 publishes awaiting PUBACK
        self.refused: set[int] = set()  # MQTT 5: publishes the broker acknowledged with a failure reason
        self._last_io = time.monotonic()

    # --- connection ---------------------------------------------------------------------------------------

    def connect(self) -> WireClient:
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
        for _ in range(MAX_PACKET_ID):
            self._next_id = self._next_id % MAX_PACKET_ID + 1
            if self._next_id not in self.inflight:
                return self._next_id
        raise WireError("65,535 publishes await PUBACK: wait for acknowledgements first.")

    def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> int:
        """Queue a PUBLISH; returns its packet id (0 for QoS 0)."""
        t = topic.encode()
        head = struct.pack("!H", len(t)) + t
        pid = 0
        if qos:
            pid = self._packet_id()
            head += struct.pack("!H", pid)
            self.inflight.add(pid)
        if self.version == MQTT_5:
            head += b"\x00"  # no properties
        self._out += bytes([0x30 | (qos << 1)]) + _varint(len(head) + len(payload)) + head + payload
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
        """Write everything queued (blocking until the kernel took it)."""
        if not self._out:
            return
        if self.sock is None:
            raise WireError("not connected")
        data, self._out = bytes(self._out), bytearray()
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
        """Append what the socket has to the input buffer; False when the broker closed the connection."""
        while True:
            try:
                chunk = self.sock.recv(1 << 20)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return True
            except OSError as exc:
                raise WireError(str(exc)) from exc
            if not chunk:
                raise WireError("MQTT broker closed the connection.")
            self._in += chunk
            if len(chunk) < (1 << 20):
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
        del buf[:i]
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
        if not readable and not _wait_io(self.sock, timeout=timeout):
            return [], []
        self._read_available()
        acked: list[int] = []
        messages: list[tuple[str, bytes]] = []
        pubacks = bytearray()
        v5 = self.version == MQTT_5
        for kind, flags, body in self._frames():
            if kind == PUBACK:
                pid = (body[0] << 8) | body[1]
                if pid in self.inflight:
                    self.inflight.discard(pid)
                    acked.append(pid)
                    if len(body) > 2 and body[2] >= 0x80:  # MQTT 5: the broker refused it (e.g. 0x87)
                        self.refused.add(pid)
            elif kind == PUBLISH:
                qos = (flags >> 1) & 0x03
                tlen = (body[0] << 8) | body[1]
                topic = body[2 : 2 + tlen].decode()
                i = 2 + tlen
                if qos:
                    pubacks += b"\x40\x02" + body[i : i + 2]
                    i += 2
                if v5:
                    plen, i = self._read_varint(body, i)
                    i += plen
                messages.append((topic, body[i:]))
        if pubacks:
            self._out += pubacks
            if not ack_later:
                self.flush()
        return acked, messages
