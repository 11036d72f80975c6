"""Reusable Tk widgets of the lab: tooltips, validated forms, chart panels, the diversity grid."""
