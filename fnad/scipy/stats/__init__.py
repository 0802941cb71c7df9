"""fnad.scipy.stats"""
