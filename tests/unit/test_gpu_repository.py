"""The GPU repository's configs parse with Triton's own ModelConfig schema and keep the model contract."""

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from inference.triton_repo_gpu import gpu_configs


def test_every_config_is_a_valid_triton_model_config() -> None:
    parsed = {}
    for name, text in gpu_configs().items():
        config = model_config_pb2.ModelConfig()
        text_format.Parse(text, config)
        parsed[name] = config
        assert config.name == name and config.max_batch_size >= 64
    ensemble = parsed["sentiment"]
    assert ensemble.platform == "ensemble"
    assert [(i.name, i.data_type, list(i.dims)) for i in ensemble.input] == [
        ("TEXT", model_config_pb2.TYPE_STRING, [1])
    ]
    assert [(o.name, o.data_type, list(o.dims)) for o in ensemble.output] == [
        ("PROBS", model_config_pb2.TYPE_FP32, [3])
    ]
    steps = [s.model_name for s in ensemble.ensemble_scheduling.step]
    assert steps == ["sentiment_tokenizer", "sentiment_onnx", "sentiment_post"]
    trt = parsed["sentiment_onnx"].optimization.execution_accelerators.gpu_execution_accelerator[0]
    assert trt.name == "tensorrt" and trt.parameters["precision_mode"] == "FP16"
    assert parsed["sentiment_onnx"].instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
