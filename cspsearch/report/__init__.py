"""Ablation reports: study storage → ReportData → figures → one offline HTML file (no torch)."""

from cspsearch.report.collect import ReportData
from cspsearch.report.collect import collect
from cspsearch.report.html import report_path
from cspsearch.report.html import write_report

__all__ = ["ReportData", "collect", "report_path", "write_report"]
