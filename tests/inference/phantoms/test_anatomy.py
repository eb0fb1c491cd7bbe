"""The body's own anatomy, as a chest film shows it: rib courses, lung markings, scapulae, septal lines."""

import math

import numpy as np
import pytest
from scipy import ndimage

from inference.conditions import Finding
from inference.phantoms.anatomy import LUNG_LOBES, LUNGISH, MU, L, cage_depth, get_body, label_set
from inference.phantoms.chest import Plane, apply_findings, resolve

SEED = 11
VOXEL = 3.0  # the 256 px grid


@pytest.fixture(scope="module")
def body():
    return get_body(SEED, "M", "40-59", VOXEL)


def _coords(body, mask):
    zi, yi, xi = np.nonzero(mask)
    return body.grid.x[xi], body.grid.y[yi], body.grid.z[zi]


@pytest.mark.parametrize("rib", [3, 5, 6])  # the ribs that reach the sternum through their cartilages
def test_a_rib_falls_three_to_four_spaces_from_its_head_to_its_anterior_end(body, rib):
    """The anterior 6th rib crosses the dome where the posterior 10th does: ribs cross as arcs on a film."""
    p = body.params
    x, y, z = _coords(body, body.rib_index == rib)  # the patient's left rib
    phi = np.arctan2(np.abs(x), y)  # 0 at the spine, pi at the sternum
    head = z[phi < 0.5].mean()
    front = z[phi > phi.max() - 0.15].mean()
    lateral = z[np.abs(phi - math.pi / 2) < 0.1].mean()
    assert 2.5 * p.rib_s < front - head < 4.5 * p.rib_s
    assert head < lateral < front


def test_anterior_ribs_print_fainter_than_posterior_ribs(body):
    """Each rib's attenuation summed along the beam, behind the lung: the flat anterior ribs weigh less."""
    rib = body.rib_index == 6
    x, y, _ = _coords(body, rib)
    phi = np.arctan2(np.abs(x), y)
    mu = MU[body.labels[rib]]
    posterior, anterior = mu[phi < 1.2].mean(), mu[phi > 2.0].mean()
    assert anterior < 0.75 * posterior


def test_lung_markings_fade_toward_the_pleura(body):
    """Vessels taper with their airways: the outer 10 mm of lung holds far fewer of them than its core."""
    lung = np.isin(body.labels, LUNGISH)
    vessel = body.labels == L.PULM_VESSEL
    depth = body.lung_depth
    outer = lung & (depth <= 10)
    core = lung & (depth >= 30)
    assert vessel[outer].mean() < 0.35 * vessel[core].mean()


def test_no_bronchial_wall_without_its_lumen(body):
    """A small airway too thin to carry air at this voxel size leaves no solid rod of wall behind (lateral to the
    hila, away from the thick-walled trachea and main bronchi)."""
    p = body.params
    lateral = np.abs(body.grid.x)[None, None, :] > max(abs(p.hilum_r[0]), abs(p.hilum_l[0])) + 10.0
    wall = (body.labels == L.AIRWAY_WALL) & lateral
    along_axes = np.zeros((5, 5, 5), bool)  # up to 2 voxels along each axis
    along_axes[2, 2, :] = along_axes[2, :, 2] = along_axes[:, 2, 2] = True
    near_air = ndimage.binary_dilation(np.isin(body.labels, (L.AIRWAY, L.TRACHEA)), structure=along_axes)
    assert wall.sum() > 0
    assert (wall & ~near_air).sum() < 0.02 * wall.sum()


def test_scapulae_lie_clear_of_the_pa_lung_fields(body):
    """Below the clavicles and humeral heads, bone that is no rib is scapula: little of it projects on lung."""
    p = body.params
    z = body.grid.z[:, None, None]
    scapula = (body.labels == L.BONE) & (body.rib_index == 0) & (z > p.z_top + 75) & (z < p.z_top + 170)
    scapula &= np.abs(body.grid.x)[None, None, :] > 40  # not the spine or sternum
    lungs = np.isin(body.labels, LUNG_LOBES).any(axis=1)
    shadow = scapula.any(axis=1)
    assert shadow.sum() > 20
    assert (shadow & lungs).sum() < 0.25 * shadow.sum()


def test_kerley_b_lines_are_short_and_run_in_from_the_lateral_pleura():
    body = get_body(SEED, "M", "40-59", 2.0)
    p, g = body.params, body.grid
    f = resolve(Finding("edema", "bilateral", severity="severe"), SEED, "cxr")
    lab = apply_findings(body, [f], "erect", SEED, Plane("cxr")).labels
    septa = lab == L.SEPTAL
    assert septa.any()
    x, y, z = _coords(body, septa)
    assert (np.abs(x) > 0.5 * p.a0).all()  # at the lateral lung edge, never across the lung
    assert (cage_depth(p, g)[septa] < 20.0).all()  # 1-2 cm long, from the pleura inwards
    film = septa.any(axis=1)  # frontal projection (z, x): each line is a short run along x
    assert max(_longest_run(row) for row in film) * g.voxel <= 24.0


def _longest_run(row: np.ndarray) -> int:
    edges = np.flatnonzero(np.diff(np.r_[0, row.astype(int), 0]))
    return int((edges[1::2] - edges[::2]).max()) if len(edges) else 0
