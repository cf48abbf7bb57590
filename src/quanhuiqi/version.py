"""The package version, in a module of its own so any stage can stamp its outputs without importing the
package root (which re-exports every stage)."""

__version__ = "0.1.0"
