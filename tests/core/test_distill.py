"""Guidance distillation: the student starts as the teacher, samples guided steps in one call, learns
the teacher's guided prediction, and its runs save, load and resume."""

from __future__ import annotations

import pytest
import torch

from tui_denoiser.core.checkpoint import save_checkpoint
from tui_denoiser.core.config import ModelConfig, SamplingConfig, TrainConfig
from tui_denoiser.core.errors import CheckpointError, ConfigError
from tui_denoiser.core.inference import load_model
from tui_denoiser.core.model import ConditionalDenoiser
from tui_denoiser.core.recipes import RECIPES
from tui_denoiser.core.sampling import GuidedDenoiser, final_images, sample
from tui_denoiser.core.sampling_policy import count_model_calls, within_budget
from tui_denoiser.core.training.distill import (ConsistencyDistiller, DistillConfig, GuidanceDistiller,
                                                run_distillation, student_from)
from tests.helpers.core import checkpoint_payload

TEACHER = ModelConfig(channels=(8, 8, 8), embed_dim=8, norm="group", skip_connections=True, parameterization="edm")
EDM_TRAIN = RECIPES["edm"].train.replace(batch_size=16)


@pytest.fixture
def teacher_file(tmp_path):
    return save_checkpoint(tmp_path / "teacher.pt", checkpoint_payload(TEACHER, EDM_TRAIN, seed=3))


def _tiny_data(n: int = 64):
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 28, 28), generator=generator, dtype=torch.uint8)
    return images, torch.arange(n) % 10


def test_the_student_starts_as_the_teachers_conditional_model_at_every_weight():
    torch.manual_seed(0)
    teacher = ConditionalDenoiser(TEACHER).eval()
    student = student_from(teacher).eval()
    x, labels = torch.randn(3, 1, 28, 28) * 2, torch.tensor([1, 5, 9])
    for w in (1.0, 2.0, 4.5):
        assert torch.equal(student(x, 2.0, labels, guidance=w), teacher(x, 2.0, labels))
    assert student.takes_guidance and not teacher.takes_guidance


def test_the_guidance_input_needs_film_and_a_plain_teacher():
    with pytest.raises(ConfigError, match="FiLM"):
        ModelConfig(conditioning="planes", guidance_input=True).validate()
    with pytest.raises(ConfigError, match="already takes"):
        student_from(ConditionalDenoiser(TEACHER.replace(guidance_input=True)))


def test_a_student_guides_in_one_call_and_the_weight_reaches_it():
    torch.manual_seed(1)
    student = ConditionalDenoiser(TEACHER.replace(guidance_input=True))
    with torch.no_grad():  # a student whose guidance columns are not zero: w changes its output
        student.cond_mlp[0].weight[:, -8:].normal_()
    student.eval()
    config = SamplingConfig(sampler="dpm2m", steps=6, guidance=2.0, guidance_interval=(0.5, 10.0), grid="karras",
                            sigma_min=0.05, sigma_max=80.0)
    labels = torch.tensor([3, 7])
    steps = list(sample(student, labels, config, seed=2))
    assert steps[-1].model_calls == count_model_calls(config, one_call_guidance=True) == 6
    assert count_model_calls(config) > 6  # the teacher pays two calls at its guided levels
    x = torch.randn(2, 1, 28, 28)
    denoise = GuidedDenoiser(student, labels, config)
    with torch.no_grad():
        assert torch.allclose(denoise(x, 2.0), student(x, 2.0, labels, guidance=2.0))
        assert torch.allclose(denoise(x, 20.0), student(x, 20.0, labels, guidance=1.0))  # outside the interval
        assert not torch.allclose(denoise(x, 2.0), student(x, 2.0, labels, guidance=1.0))


def test_within_budget_counts_a_students_guided_steps_once():
    defaults = SamplingConfig(sampler="dpm2m-churn", steps=14, guidance=1.5, guidance_interval=(0.3, 10.0),
                              grid="karras", sigma_min=0.002, sigma_max=80.0)
    teacher_calls = count_model_calls(defaults)
    student_calls = count_model_calls(defaults, one_call_guidance=True)
    assert student_calls == 14 < teacher_calls
    assert within_budget(defaults, student_calls, one_call_guidance=True) == defaults
    assert within_budget(defaults, student_calls) != defaults


def test_distillation_learns_the_teachers_guided_prediction_and_resumes(teacher_file, tmp_path):
    images, labels = _tiny_data()
    config = DistillConfig(steps=6, batch_size=8, lr=1e-3, save_every=3, ema_decay=0.5)
    distiller = GuidanceDistiller(teacher_file, tmp_path, config, images=images, labels=labels)
    losses = [distiller.step() for _ in range(3)]
    assert losses[0] > 0
    distiller.save(tmp_path / "run" / "last.pt")

    again = GuidanceDistiller(teacher_file, tmp_path, config, images=images, labels=labels)
    again.resume(tmp_path / "run" / "last.pt")
    assert again.step_done == 3
    for a, b in zip(again.student.state_dict().values(), distiller.student.state_dict().values()):
        assert torch.equal(a, b)
    lines: list[str] = []
    path = run_distillation(again, tmp_path / "run", report=lines.append)
    assert again.step_done == 6 and len(lines) == 1 and "step 6/6" in lines[0]

    loaded = load_model(path)  # a distilled run samples as any checkpoint, guided in one call a step
    assert loaded.model.takes_guidance and loaded.sampling.guided
    steps = list(loaded.sample([4, 2], loaded.sampling.replace(steps=4)))
    assert steps[-1].model_calls == 4
    assert torch.isfinite(final_images(iter(steps))).all()


def test_a_teacher_without_label_dropout_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "t.pt", checkpoint_payload(TEACHER, EDM_TRAIN.replace(label_dropout=0.0)))
    with pytest.raises(ConfigError, match="label dropout"):
        GuidanceDistiller(path, tmp_path, DistillConfig(steps=1), images=_tiny_data()[0], labels=_tiny_data()[1])


def test_resuming_from_a_file_that_is_no_distillation_run_is_one_line(teacher_file, tmp_path):
    images, labels = _tiny_data()
    distiller = GuidanceDistiller(teacher_file, tmp_path, DistillConfig(steps=1, batch_size=4), images=images,
                                  labels=labels)
    with pytest.raises(CheckpointError, match="not a guidance-distillation checkpoint"):
        distiller.resume(teacher_file)


def test_the_consistency_sampler_jumps_then_renoises_to_the_next_level():
    torch.manual_seed(2)
    model = ConditionalDenoiser(TEACHER).eval()
    config = SamplingConfig(sampler="consistency", steps=2, levels=(80.0, 1.5), sigma_max=80.0, grid="karras",
                            sigma_min=0.002)
    labels = torch.tensor([0, 6])
    frames = list(sample(model, labels, config, seed=5, chunk_size=None))
    assert [f.sigma for f in frames] == [80.0, 1.5, 0.0] and frames[-1].model_calls == 2
    generator = torch.Generator().manual_seed(5)  # the reference loop, with the same random stream
    x = torch.randn((2, 1, 28, 28), generator=generator) * 80.0
    with torch.no_grad():
        x = model(x, 80.0, labels) + 1.5 * torch.randn((2, 1, 28, 28), generator=generator)
        x = model(x, 1.5, labels)
    torch.testing.assert_close(frames[-1].images, x)


def test_consistency_distillation_runs_saves_and_samples_in_its_own_steps(teacher_file, tmp_path):
    images, labels = _tiny_data()
    config = DistillConfig(steps=2, batch_size=8, lr=1e-3, save_every=2, levels=6, ema_decay=0.0)
    distiller = ConsistencyDistiller(teacher_file, tmp_path, config, images=images, labels=labels)
    path = run_distillation(distiller, tmp_path / "cd", report=lambda line: None)
    loaded = load_model(path)
    assert loaded.sampling.sampler == "consistency" and loaded.sampling.levels == (80.0, 1.5)
    assert not loaded.model.takes_guidance
    one = within_budget(loaded.sampling, 1)
    assert one.steps == 1 and one.levels == (80.0,)
    assert torch.isfinite(final_images(loaded.sample([1, 2], one))).all()
    with pytest.raises(CheckpointError, match="not a guidance-distillation"):
        GuidanceDistiller(teacher_file, tmp_path, config, images=images, labels=labels).resume(path)


def test_consistency_distillation_needs_an_edm_teacher(tmp_path):
    path = save_checkpoint(tmp_path / "t.pt", checkpoint_payload(TEACHER.replace(parameterization="direct"), EDM_TRAIN))
    with pytest.raises(ConfigError, match="EDM"):
        ConsistencyDistiller(path, tmp_path, DistillConfig(steps=1), images=_tiny_data()[0], labels=_tiny_data()[1])


def test_a_student_keeps_its_teachers_recipe_name():
    from tui_denoiser.core.recipes import recipe_of

    for name in ("edm", "original", "seed"):
        recipe = RECIPES[name]
        assert recipe_of(recipe.model, recipe.train) == name
    assert recipe_of(RECIPES["edm"].model.replace(guidance_input=True), RECIPES["edm"].train) == "edm"


def test_the_shipped_students_sample_as_their_kind():
    from tui_denoiser.core.paths import CONSISTENCY_MODEL, DISTILLED_MODEL

    distilled = load_model(DISTILLED_MODEL)
    assert distilled.one_call_guidance and count_model_calls(distilled.sampling, one_call_guidance=True) == 14
    consistency = load_model(CONSISTENCY_MODEL)
    assert consistency.sampling.sampler == "consistency" and consistency.sampling.levels == (80.0, 1.5)
    one = within_budget(consistency.sampling, 1)
    steps = list(consistency.sample([3, 8], one, seed=1))
    assert steps[-1].model_calls == 1 and torch.isfinite(steps[-1].images).all()
