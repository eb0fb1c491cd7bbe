from django import forms

from inference.vocabulary import FINDINGS, LATERALITIES, LOCATIONS, MODALITIES, SEVERITIES, SEXES, VIEWS

from .models import HISTORY_FIELDS, VITAL_FIELDS, SeedPolicy, VersionStatus
from .services import CaseContent, StudyInput

FINDING_ROWS = 4
MODALITY_LABELS = {"cxr": "Chest X-ray", "ct": "CT chest (slice stack)", "lap": "Laparoscopy (video clip)"}
FINDING_CHOICES = [("", "—")] + [
    (f"{MODALITY_LABELS[m]}", [(key, kind.label) for key, kind in FINDINGS.items() if kind.modalities[0] == m])
    for m in MODALITIES
]
VIEW_CHOICES = [(v, v) for m in MODALITIES for v in VIEWS[m]]
LOBES = {"rul", "rml", "rll", "lul", "lll"}
LOCATION_CHOICES = [("", "—")] + [(loc.upper() if loc in LOBES else loc, loc.upper() if loc in LOBES else loc)
                                   for loc in LOCATIONS if loc and loc != "other"]


class CaseForm(forms.Form):
    title = forms.CharField(max_length=200)
    patient_age = forms.IntegerField(min_value=0, max_value=120, label="Patient age")
    patient_sex = forms.ChoiceField(choices=[(s, {"F": "Female", "M": "Male"}[s]) for s in SEXES])
    presenting_complaint = forms.CharField(max_length=500)
    exam = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Examination")
    diagnosis_id = forms.CharField(required=False, widget=forms.HiddenInput)
    diagnosis = forms.CharField(max_length=200, label="Correct diagnosis",
                                widget=forms.TextInput(attrs={"autocomplete": "off", "data-kg-search": "disease"}))
    diagnosis_synonyms = forms.CharField(max_length=500, required=False, label="Also accept (comma-separated)")
    differentials = forms.CharField(required=False, widget=forms.HiddenInput)
    teaching_point = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    study_title = forms.CharField(max_length=200, initial="Chest X-ray PA")
    study_modality = forms.ChoiceField(choices=[(m, MODALITY_LABELS[m]) for m in MODALITIES], label="Modality")
    study_view = forms.ChoiceField(choices=VIEW_CHOICES, label="View")
    study_prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Image prompt")
    seed_policy = forms.ChoiceField(choices=SeedPolicy.choices)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)
    slice_count = forms.IntegerField(min_value=1, max_value=200, required=False, label="CT slices")
    frame_count = forms.IntegerField(min_value=1, max_value=600, required=False, label="Clip frames")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, label in HISTORY_FIELDS:
            self.fields[f"history_{name}"] = forms.CharField(
                label=label, required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 1}))
        for name, label, unit, (low, high) in VITAL_FIELDS:
            self.fields[f"vital_{name}"] = forms.FloatField(
                label=f"{label} ({unit})", required=False, min_value=low, max_value=high)
        for i in range(FINDING_ROWS):
            self.fields[f"finding_{i}_key"] = forms.ChoiceField(choices=FINDING_CHOICES, required=False,
                                                                 label=f"Finding {i + 1}")
            self.fields[f"finding_{i}_laterality"] = forms.ChoiceField(
                choices=[(v, v) for v in LATERALITIES], required=False, label="Side")
            self.fields[f"finding_{i}_location"] = forms.ChoiceField(
                choices=LOCATION_CHOICES, required=False, label="Location")
            self.fields[f"finding_{i}_severity"] = forms.ChoiceField(
                choices=[(v, v) for v in SEVERITIES], required=False, initial="moderate", label="Severity")
            self.fields[f"finding_{i}_size_mm"] = forms.FloatField(required=False, min_value=0.1, max_value=150,
                                                                   label="Size (mm)")
            self.fields[f"finding_{i}_mask"] = forms.CharField(required=False, widget=forms.HiddenInput)

    def history_fields(self):
        return [self[f"history_{name}"] for name, _ in HISTORY_FIELDS]

    def vital_fields(self):
        return [self[f"vital_{name}"] for name, *_ in VITAL_FIELDS]

    def finding_rows(self):
        return [[self[f"finding_{i}_{part}"] for part in ("key", "laterality", "location", "severity", "size_mm",
                                                           "mask")]
                for i in range(FINDING_ROWS)]

    def findings(self) -> list[dict]:
        rows = []
        for i in range(FINDING_ROWS):
            data = self.cleaned_data
            key = data.get(f"finding_{i}_key")
            if not key:
                continue
            row = {"key": key, "laterality": data.get(f"finding_{i}_laterality") or "none",
                   "severity": data.get(f"finding_{i}_severity") or "moderate"}
            if data.get(f"finding_{i}_location"):
                row["location"] = data[f"finding_{i}_location"]
            if data.get(f"finding_{i}_size_mm") is not None:
                row["size_mm"] = data[f"finding_{i}_size_mm"]
            if data.get(f"finding_{i}_mask"):
                row["mask_png_b64"] = data[f"finding_{i}_mask"]
            rows.append(row)
        return rows

    def linked_node_ids(self) -> list[str]:
        """The knowledge-graph ids the form holds now (diagnosis, then differentials), bound or not."""
        ids = [self["diagnosis_id"].value() or ""] + (self["differentials"].value() or "").split(",")
        return [i.strip() for i in ids if i.strip()]

    def clean_differentials(self) -> list[str]:
        raw = self.cleaned_data.get("differentials") or ""
        return [item for item in raw.split(",") if item.strip()]

    def content(self, *, kg_version: str) -> CaseContent:
        data = self.cleaned_data
        vitals = {}
        for name, *_ in VITAL_FIELDS:
            value = data.get(f"vital_{name}")
            if value is not None:
                vitals[name] = int(value) if float(value).is_integer() and name != "temperature" else value
        return CaseContent(
            title=data["title"], patient_age=data["patient_age"], patient_sex=data["patient_sex"],
            presenting_complaint=data["presenting_complaint"], exam=data["exam"],
            diagnosis_id=data["diagnosis_id"], diagnosis=data["diagnosis"],
            diagnosis_synonyms=data["diagnosis_synonyms"], differentials=data["differentials"],
            teaching_point=data["teaching_point"], kg_version=kg_version if data["diagnosis_id"] else "",
            history={name: data[f"history_{name}"] for name, _ in HISTORY_FIELDS if data.get(f"history_{name}")},
            vitals=vitals,
        )

    def studies(self) -> list[StudyInput]:
        data = self.cleaned_data
        modality = data["study_modality"]
        return [StudyInput(
            title=data["study_title"], modality=modality, view=data["study_view"], prompt=data["study_prompt"],
            findings=self.findings(), seed_policy=data["seed_policy"], seed=data["seed"],
            slice_count=data.get("slice_count") if modality == "ct" else None,
            frame_count=data.get("frame_count") if modality == "lap" else None,
        )]

    @classmethod
    def initial_from(cls, version) -> dict:
        data = {name: getattr(version, name) for name in (
            "title", "patient_age", "patient_sex", "presenting_complaint", "exam", "diagnosis_id", "diagnosis",
            "diagnosis_synonyms", "teaching_point")}
        data["differentials"] = ",".join(version.differentials)
        for name, value in version.history.items():
            data[f"history_{name}"] = value
        for name, value in version.vitals.items():
            data[f"vital_{name}"] = value
        study = version.studies.first()
        if study:
            data.update(study_title=study.title, study_modality=study.modality, study_view=study.view,
                        study_prompt=study.prompt, seed_policy=study.seed_policy, seed=study.seed,
                        slice_count=study.slice_count, frame_count=study.frame_count)
            for i, finding in enumerate(study.findings[:FINDING_ROWS]):
                data[f"finding_{i}_key"] = finding["key"]
                data[f"finding_{i}_laterality"] = finding.get("laterality", "none")
                data[f"finding_{i}_severity"] = finding.get("severity", "moderate")
                data[f"finding_{i}_location"] = finding.get("location", "")
                data[f"finding_{i}_size_mm"] = finding.get("size_mm")
                data[f"finding_{i}_mask"] = finding.get("mask_png_b64", "")
        return data


class PublishForm(forms.Form):
    cohorts = forms.ModelMultipleChoiceField(queryset=None, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cohorts"].queryset = organisation.cohorts.order_by("name")


class CaseFilterForm(forms.Form):
    modality = forms.ChoiceField(choices=[("", "Any modality")] + [(m, MODALITY_LABELS[m]) for m in MODALITIES],
                                 required=False)
    status = forms.ChoiceField(choices=[("", "Any status")] + list(VersionStatus.choices), required=False)
    diagnosis = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "Diagnosis"}))
    author = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any author")

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        from simulator.accounts.models import User

        self.fields["author"].queryset = User.objects.filter(organisation=organisation, role="educator")


class TypicalMaskForm(forms.Form):
    """The finding whose typical placement the painter asks for (the row's current values)."""

    key = forms.CharField(max_length=64)
    laterality = forms.CharField(max_length=16, required=False)
    location = forms.CharField(max_length=64, required=False)
    severity = forms.CharField(max_length=16, required=False)
    size_mm = forms.FloatField(required=False, min_value=0.5, max_value=200.0)

    def finding(self) -> dict:
        data = self.cleaned_data
        return {"key": data["key"], "laterality": data["laterality"] or "none", "location": data["location"],
                "severity": data["severity"] or "moderate", "size_mm": data["size_mm"]}
