from genrec.local_stack import _log_excerpt


def test_a_failed_start_names_the_error_line_not_only_the_shutdown_tail(tmp_path):
    log = tmp_path / "triton.log"
    cause = 'E1125 20:47:20.1 4127 model_lifecycle.cc:654] "failed to load genrec: CUDA error"'
    shutdown = [f"| option {i} | value |" for i in range(200)]
    log.write_text("\n".join(["I1125 starting", cause, *shutdown, "error: creating server"]))
    excerpt = _log_excerpt(log)
    assert cause in excerpt
    assert excerpt.endswith("error: creating server")  # the tail follows


def test_a_log_without_errors_gives_its_tail(tmp_path):
    log = tmp_path / "redis.log"
    log.write_text("x" * 5000 + "ready")
    assert _log_excerpt(log) == ("x" * 5000 + "ready")[-1500:]
