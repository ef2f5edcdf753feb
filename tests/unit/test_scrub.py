"""One scrubber for every text a server sends before a member reads it: a table of every path kind."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from bot.comfy.rejections import rejection_from_body
from bot.errors import ExecutionFailed, scrub_server_text

#: (what ComfyUI or a custom node said, what a member may read)
SCRUBBED = [
    # POSIX, including the single-segment folders of a real ComfyUI 0.3.64 SaveImage refusal.
    ("commonpath: /tmp", "commonpath: [path]"),
    (
        "**** ERROR: Saving image outside the output folder is not allowed.\n full_output_folder: /opt\n"
        "         output_dir: /opt/comfyui/output\n         commonpath: /opt\n",
        "**** ERROR: Saving image outside the output folder is not allowed.\n full_output_folder: [path]\n"
        "         output_dir: [path]\n         commonpath: [path]\n",
    ),
    ("cannot open '/opt/comfyui/models/vae/x.pt'", "cannot open 'x.pt'"),
    ("error in /opt/comfyui/custom_nodes/my-node/__init__.py, line 4", "error in __init__.py, line 4"),
    ("Not found: /srv/models/sd15.safetensors.", "Not found: sd15.safetensors."),
    # Spaces: inside quotes the whole path; unquoted, a folder with a space before the next slash.
    (
        "[Errno 2] No such file or directory: '/home/comfy user/models/sd 1.5.safetensors'",
        "[Errno 2] No such file or directory: 'sd 1.5.safetensors'",
    ),
    ("file /home/comfy user/models/x.pt is missing", "file x.pt is missing"),
    ('path "/srv/comfy data/input/img.png" is bad', 'path "img.png" is bad'),
    # Windows drive paths, with either slash, as printed and as repr() doubles them.
    (r"C:\ComfyUI\models\checkpoints\sd15.ckpt not found", "sd15.ckpt not found"),
    ("C:/ComfyUI/models/loras/style.safetensors missing", "style.safetensors missing"),
    (
        "FileNotFoundError: 'C:\\\\Users\\\\Bob Smith\\\\ComfyUI\\\\models\\\\x.pt'",
        "FileNotFoundError: 'x.pt'",
    ),
    (r"output folder D:\AI\Comfy output\ is full", "output folder [path] is full"),
    # UNC shares.
    (r"\\nas\share\models\lora.safetensors is offline", "lora.safetensors is offline"),
    (r"cannot reach \\fileserver\comfy", "cannot reach [path]"),
    # Home directories.
    ("~/ComfyUI/models/x.pt missing; also ~bob/private/y.bin", "x.pt missing; also y.bin"),
    # URLs: no credentials, port, query, or path but the file.
    (
        "download failed: https://user:secret@huggingface.co/org/repo/resolve/main/model.safetensors?token=abc",
        "download failed: https://huggingface.co/…/model.safetensors",
    ),
    ("see http://admin:hunter2@10.0.0.5:8188/view?filename=a.png", "see http://10.0.0.5/…/view"),
    ("proxy at https://gpu.internal:8443 refused", "proxy at https://gpu.internal refused"),
    # Ordinary prose is left alone.
    ("Value 0 smaller than min of 1", "Value 0 smaller than min of 1"),
    ("and/or 1/2 ratio 16:9 a - b 3/4", "and/or 1/2 ratio 16:9 a - b 3/4"),
    ("CUDA out of memory. Tried to allocate 2.00 GiB", "CUDA out of memory. Tried to allocate 2.00 GiB"),
    ("😵 Ошибка: @everyone **bad**", "😵 Ошибка: @everyone **bad**"),
]


@pytest.mark.parametrize(("raw", "shown"), SCRUBBED)
def test_scrub_server_text(raw: str, shown: str) -> None:
    assert scrub_server_text(raw) == shown


@pytest.mark.parametrize("username", ["comfy user", "alice", "Bob Smith", "secret"])
def test_no_user_name_or_secret_survives(username: str) -> None:
    for template in (
        "/home/{u}/ComfyUI/models/x.pt",
        "'/home/{u}/x.pt'",
        r"C:\Users\{u}\x.pt",
        r"\\{u}\share\x.pt",
        "~{u}/x.pt",
        "https://{q}:pw@host/x",  # in a URL the name is percent-encoded
    ):
        raw = template.format(u=username, q=quote(username))
        assert username not in scrub_server_text(raw), raw
        assert quote(username) not in scrub_server_text(raw), raw


def test_execution_errors_are_scrubbed() -> None:
    error = ExecutionFailed(
        "3", "SaveImage", "Exception", "outside the output folder\n commonpath: /tmp\n output_dir: /opt/o"
    )
    assert error.user_message == (
        "The image server failed at node 3 (SaveImage): outside the output folder\n commonpath: [path]\n"
        " output_dir: [path]"
    )
    assert "/opt/o" in str(error), "the log keeps the whole message"


def test_validation_details_are_scrubbed() -> None:
    body = {
        "error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation"},
        "node_errors": {
            "4": {
                "class_type": "CheckpointLoaderSimple",
                "errors": [
                    {
                        "type": "custom_validation_failed",
                        "message": "Custom validation failed for node",
                        "details": "ckpt_name - cannot read C:\\Users\\Bob\\models\\sd.ckpt",
                        "extra_info": {"input_name": "ckpt_name"},
                    },
                    {
                        "type": "exception_during_inner_validation",
                        "message": "Exception when validating inner node",
                        "details": "config - [Errno 13] Permission denied: '/home/comfy user/cfg.yaml'",
                        "extra_info": {"input_name": "config"},
                    },
                ],
            }
        },
    }
    assert rejection_from_body(body).user_message == (
        "The workflow was rejected by the image server: "
        "node 4 (CheckpointLoaderSimple), input 'ckpt_name': cannot read sd.ckpt; "
        "node 4 (CheckpointLoaderSimple), input 'config': Exception when validating inner node: "
        "[Errno 13] Permission denied: 'cfg.yaml'"
    )


def test_a_rejection_without_node_errors_is_scrubbed() -> None:
    body = {"error": {"type": "invalid_prompt", "message": "Cannot read /opt/comfyui/user/x.json"}}
    assert rejection_from_body(body).user_message == (
        "The workflow was rejected by the image server: Cannot read x.json"
    )
