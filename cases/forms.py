from django import forms

from inference.vocabulary import FINDINGS, LATERALITIES, SEVERITIES, SEXES, VIEWS

from .models import SeedPolicy

FINDING_ROWS = 3
FINDING_CHOICES = [("", "—")] + [(key, kind.label) for key, kind in FINDINGS.items() if "cxr" in kind.modalities]


class CaseForm(forms.Form):
    title = forms.CharField(max_length=200)
    patient_age = forms.IntegerField(min_value=0, max_value=120, label="Patient age")
    patient_sex = forms.ChoiceField(choices=[(s, {"F": "Female", "M": "Male"}[s]) for s in SEXES])
    presenting_complaint = forms.CharField(max_length=500)
    history = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    diagnosis = forms.CharField(max_length=200, label="Correct diagnosis")
    diagnosis_synonyms = forms.CharField(max_length=500, required=False, label="Also accept (comma-separated)")
    teaching_point = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    study_title = forms.CharField(max_length=200, initial="Chest X-ray")
    study_view = forms.ChoiceField(choices=[(v, v) for v in VIEWS["cxr"]], label="View")
    study_prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Image prompt")
    seed_policy = forms.ChoiceField(choices=SeedPolicy.choices)
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(FINDING_ROWS):
            self.fields[f"finding_{i}_key"] = forms.ChoiceField(choices=FINDING_CHOICES, required=False,
                                                                 label=f"Finding {i + 1}")
            self.fields[f"finding_{i}_laterality"] = forms.ChoiceField(
                choices=[(v, v) for v in LATERALITIES], required=False, label="Side")
            self.fields[f"finding_{i}_severity"] = forms.ChoiceField(
                choices=[(v, v) for v in SEVERITIES], required=False, initial="moderate", label="Severity")

    def finding_rows(self):
        return [
            (self[f"finding_{i}_key"], self[f"finding_{i}_laterality"], self[f"finding_{i}_severity"])
            for i in range(FINDING_ROWS)
        ]

    def findings(self) -> list[dict]:
        rows = []
        for i in range(FINDING_ROWS):
            key = self.cleaned_data.get(f"finding_{i}_key")
            if key:
                rows.append({
                    "key": key,
                    "laterality": self.cleaned_data.get(f"finding_{i}_laterality") or "none",
                    "severity": self.cleaned_data.get(f"finding_{i}_severity") or "moderate",
                })
        return rows

    @classmethod
    def initial_from(cls, case) -> dict:
        study = case.studies.first()
        data = {name: getattr(case, name) for name in (
            "title", "patient_age", "patient_sex", "presenting_complaint", "history", "diagnosis",
            "diagnosis_synonyms", "teaching_point")}
        if study:
            data.update(study_title=study.title, study_view=study.view, study_prompt=study.prompt,
                        seed_policy=study.seed_policy, seed=study.seed)
            for i, finding in enumerate(study.findings[:FINDING_ROWS]):
                data[f"finding_{i}_key"] = finding["key"]
                data[f"finding_{i}_laterality"] = finding.get("laterality", "none")
                data[f"finding_{i}_severity"] = finding.get("severity", "moderate")
        return data


class PublishForm(forms.Form):
    cohorts = forms.ModelMultipleChoiceField(queryset=None, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cohorts"].queryset = organisation.cohorts.order_by("name")
