"""A sleep pod written from docs/devices.md alone: paho-mqtt and msgpack, nothing of
dreamcommons. It is born with a pairing offer, streams a sleeper breathing at 15 a minute,
acknowledges every command, and stops cleanly; then prints one JSON line of what it did.

    python examples/python_device.py mqtt://127.0.0.1:1883 --id pod-demo --code KYRA42ZZZZ
"""

import argparse
import hashlib
import json
import math
import os
import threading
import time
from urllib.parse import urlsplit

import msgpack
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ACTIONS = ["light", "sound", "pace", "paired", "unpaired"]
HZ, PER_BATCH = 5.0, 5


def offer(code: str) -> dict[str, str]:
    """What the birth says of the code: its hint and its salted scrypt, never the code."""
    salt = os.urandom(16)
    verifier = hashlib.scrypt(code.encode("ascii"), salt=salt, n=8192, r=8, p=1, dklen=32)
    return {"hint": code[:2], "salt": salt.hex(), "verifier": verifier.hex()}


class Pod:
    def __init__(self, device_id: str, code: str) -> None:
        self.id, self.topic = device_id, f"dreamcommons/v1/devices/{device_id}"
        self.offer: dict[str, str] | None = offer(code)
        self.key = os.urandom(16).hex()  # this connection's status key
        self.bd_seq = 0  # one connection here: a real pod keeps counting across them
        self.levels: dict[str, float] = {}
        self.commands: list[str] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id)
        self.client.on_message = self.on_command
        self.connected = threading.Event()
        self.client.on_connect = lambda *_: self.connected.set()

    def send(
        self, leaf: str, payload: dict[str, object], qos: int = 1, retain: bool = False
    ) -> mqtt.MQTTMessageInfo:
        return self.client.publish(f"{self.topic}/{leaf}", msgpack.packb(payload), qos, retain)

    def birth(self) -> None:
        birth = {
            "kind": "pod",
            "model": "Example Pod",
            "firmware": "example-1",
            "bd_seq": self.bd_seq,
            "sample_hz": HZ,
            "sensors": ["hr", "hrv", "resp", "phase", "eeg", "move"],
            "actions": ACTIONS,
            "status_digest": hashlib.sha256(bytes.fromhex(self.key)).hexdigest(),
        }
        if self.offer is not None:
            birth["pairing"] = self.offer
        self.send("birth", birth, retain=True)

    def start(self, broker: str) -> None:
        will = {"state": "lost", "bd_seq": self.bd_seq, "key": self.key}
        self.client.will_set(f"{self.topic}/status", msgpack.packb(will), 1, retain=True)
        url = urlsplit(broker)
        self.client.connect(url.hostname or "127.0.0.1", url.port or 1883)
        self.client.loop_start()
        self.connected.wait(10)
        self.birth()
        self.send("status", {"state": "ready", "bd_seq": self.bd_seq}, retain=True)
        self.client.subscribe(f"{self.topic}/commands", qos=1)

    def on_command(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        command = msgpack.unpackb(message.payload)
        action, ok, error = command.get("action"), True, None
        if action == "paired":
            self.offer = None  # paired: the birth no longer offers the code
            self.birth()
        elif action in ("light", "sound"):
            self.levels[action] = float(command.get("value") or 0.0)
        elif action not in ACTIONS:
            ok, error = False, f"a pod cannot {action}"
        self.commands.append(str(action))
        ack = {"id": command["id"], "ok": ok}
        if error is not None:
            ack["error"] = error
        self.send("acks", ack)

    def stream(self, seconds: float) -> int:
        """Sample at HZ and publish a batch every PER_BATCH samples; how many batches."""
        seq, samples, start = 0, [], time.monotonic()
        while (now := time.monotonic()) - start < seconds:
            t = now - start
            samples.append(
                {
                    "t": t,
                    "hr": 58.0 + 2.0 * math.sin(t / 7.0),
                    "hrv": 62.0,
                    "resp": 15.0,
                    "phase": (2.0 * math.pi * 0.25 * t) % (2.0 * math.pi),
                    "eeg": [0.62, 0.2, 0.12, 0.06],  # slow waves: deep sleep
                    "move": 0.02,
                }
            )
            if len(samples) == PER_BATCH:
                self.send("samples", {"seq": seq, "bd_seq": self.bd_seq, "samples": samples}, 0)
                seq, samples = seq + 1, []
            time.sleep(max(0.0, start + (t + 1.0 / HZ) - time.monotonic()))
        return seq

    def stop(self) -> None:
        """Offline for good: the last word with the key, then clear the retained birth and
        status, then disconnect cleanly (no will)."""
        last = {"state": "disconnected", "bd_seq": self.bd_seq, "key": self.key}
        self.send("status", last, retain=True).wait_for_publish(5)
        for leaf in ("birth", "status"):
            self.client.publish(f"{self.topic}/{leaf}", b"", 1, True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("broker", help="mqtt://HOST:PORT")
    parser.add_argument("--id", default="pod-example")
    parser.add_argument("--code", default="KYRA42ZZZZ", help="10 of 2-9 A-Z without I L O U")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    pod = Pod(args.id, args.code.upper())
    pod.start(args.broker)
    print(json.dumps({"device": pod.id, "code": args.code}), flush=True)
    batches = pod.stream(args.seconds)
    pod.stop()
    report = {"batches": batches, "commands": pod.commands, "levels": pod.levels}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
